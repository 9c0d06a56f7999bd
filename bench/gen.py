#!/usr/bin/env python3
"""Deterministic generator of realistic CRM data for crmsync's benchmarks.

Standard library only. The same seed and size always give the same bytes.

    python3 bench/gen.py --rows 1000000 --out bench/data

writes, for N rows:
  customers-N.csv          Index, Customer Id, First Name, Last Name, Company, City,
                           Country, Phone 1, Phone 2, Email, Subscription Date, Website, Notes
                           (a fifth Chinese; about 5% messy: spaces, upper-case e-mails,
                           (555) 123-4567 / +1-555-123-4567 / 555.123.4567 phones, empty
                           cells, commas in quoted names, notes with newlines and quotes)
  customers-N-changed.csv  the same with 1% of records updated, 0.5% inserted, 0.5% deleted
  companies-N.csv, deals-N.csv, activities-N.csv  (N/10, N/5, N/2 rows) for sync scenarios
"""

import argparse
import csv
import os
import random

FIRST_EN = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
            "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
            "Sheryl", "Preston", "Roy", "Linda", "Joanna", "Aimee", "Darren", "Brett", "Kristi", "Raven"]
LAST_EN = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
           "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
           "Baxter", "Lozano", "Berry", "Olsen", "Bender", "O'Neil", "Mejia", "Peck", "Snyder", "Latimer"]
FIRST_ZH = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞"]
LAST_ZH = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗"]
COMPANY_EN = ["Group", "Inc", "LLC", "and Sons", "Ltd", "PLC", "Partners", "Holdings"]
COMPANY_ZH = ["科技有限公司", "贸易有限公司", "实业集团", "电子股份有限公司", "网络科技有限公司", "物流有限公司"]
CITY_ZH = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "苏州"]
CITY_EN = ["Boston", "Austin", "Seattle", "Chicago", "Denver", "Portland", "Atlanta", "Miami", "Dallas", "Phoenix",
           "London", "Berlin", "Paris", "Toronto", "Sydney"]
COUNTRIES = ["United States", "USA", "Canada", "United Kingdom", "Germany", "France", "Australia", "Japan", "Mexico",
             "Brazil", "India", "Netherlands", "Sweden", "Spain", "Italy"]
# The countries of rows with North American numbers, as many names as
# COUNTRIES so that the random draws, and so the rest of the file, stay the
# same: a phone's region is read from its row's country (`region_from`).
NORTH_AMERICA = ["United States", "USA", "Canada"] * 5
assert len(NORTH_AMERICA) == len(COUNTRIES)
DOMAINS = ["example.com", "example.org", "example.net", "mail.com", "corp.io"]
WORDS = ["renewal", "discount", "meeting", "follow-up", "trade show", "pricing", "demo", "contract", "support",
         "onboarding", "upsell", "invoice", "feedback", "referral", "webinar"]


def phone_us(rng):
    a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    style = rng.random()
    if style < 0.4:
        return f"{a}-{b}-{c:04d}"
    if style < 0.6:
        return f"({a}) {b}-{c:04d}"
    if style < 0.8:
        return f"+1-{a}-{b}-{c:04d}"
    if style < 0.95:
        return f"{a}.{b}.{c:04d}"
    return f"{a}.{b}.{c:04d}x{rng.randint(10, 9999)}"


def phone_cn(rng):
    n = f"1{rng.choice('3456789')}{rng.randint(0, 999999999):09d}"
    return rng.choice([f"+86 {n[:3]} {n[3:7]} {n[7:]}", n, f"{n[:3]}-{n[3:7]}-{n[7:]}"])


def customer(rng, index):
    zh = rng.random() < 0.2
    messy = rng.random() < 0.05
    cid = "".join(rng.choice("0123456789abcdefABCDEF") for _ in range(15))
    if zh:
        first, last = rng.choice(FIRST_ZH), rng.choice(LAST_ZH)
        company = rng.choice(LAST_ZH) + rng.choice(["华", "盛", "达", "新", "信", "通"]) + rng.choice(COMPANY_ZH)
        city, country = rng.choice(CITY_ZH), "中国" if rng.random() < 0.5 else "China"
        phone1, phone2 = phone_cn(rng), phone_cn(rng)
        email = f"user{index}@{rng.choice(DOMAINS)}"
    else:
        first, last = rng.choice(FIRST_EN), rng.choice(LAST_EN)
        company = f"{rng.choice(LAST_EN)} {rng.choice(COMPANY_EN)}"
        if rng.random() < 0.3:
            company = f"{rng.choice(LAST_EN)}, {rng.choice(LAST_EN)} and {rng.choice(LAST_EN)}"
        city, country = rng.choice(CITY_EN), rng.choice(NORTH_AMERICA)
        phone1, phone2 = phone_us(rng), phone_us(rng)
        email = f"{first.lower().replace(chr(39), '')}.{last.lower().replace(chr(39), '')}{index}@{rng.choice(DOMAINS)}"
    year, month, day = rng.randint(2019, 2024), rng.randint(1, 12), rng.randint(1, 28)
    since = f"{year}-{month:02d}-{day:02d}"
    website = f"http://{last.lower().replace(chr(39), '')}{index % 997}.com" if not zh else f"http://cn{index % 997}.cn"
    notes = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5)))
    if rng.random() < 0.1:
        notes += '\nSaid: "call back next week"'
    if messy:
        kind = rng.randint(0, 4)
        if kind == 0:
            first, last = f"  {first} ", f"{last}  "
        elif kind == 1:
            email = email.upper()
        elif kind == 2:
            phone2 = ""
        elif kind == 3:
            email = f" {email} "
        else:
            city = ""
    return [str(index), cid, first, last, company, city, country, phone1, phone2, email, since, website, notes]


HEADER = ["Index", "Customer Id", "First Name", "Last Name", "Company", "City", "Country", "Phone 1", "Phone 2",
          "Email", "Subscription Date", "Website", "Notes"]


def write_customers(path, rows, seed):
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        for i in range(1, rows + 1):
            w.writerow(customer(rng, i))


def write_changed(src, dst, rows, seed):
    """1% updated, 0.5% deleted, 0.5% inserted (new Index values past the end)."""
    rng = random.Random(seed + 1)
    gen = random.Random(seed + 2)
    with open(src, newline="", encoding="utf-8") as f, open(dst, "w", newline="", encoding="utf-8") as out:
        r = csv.reader(f)
        w = csv.writer(out, lineterminator="\n")
        w.writerow(next(r))
        for row in r:
            x = rng.random()
            if x < 0.005:
                continue
            if x < 0.015:
                row[9] = "changed." + row[9].strip().lower()
                row[12] = row[12] + " (updated)"
            w.writerow(row)
        for i in range(rows // 200):
            w.writerow(customer(gen, rows + 1 + i))


def write_related(out_dir, rows, seed):
    rng = random.Random(seed + 3)
    n_comp, n_deals, n_act = max(rows // 10, 1), max(rows // 5, 1), max(rows // 2, 1)
    with open(os.path.join(out_dir, f"companies-{rows}.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["Company Id", "Name", "Domain", "Industry", "Phone", "City", "Country"])
        for i in range(1, n_comp + 1):
            name = f"{rng.choice(LAST_EN)} {rng.choice(COMPANY_EN)} {i}"
            w.writerow([f"C{i:07d}", name, f"c{i}.example.com", rng.choice(["Software", "Retail", "Logistics", "Finance"]),
                        phone_us(rng), rng.choice(CITY_EN), rng.choice(COUNTRIES)])
    with open(os.path.join(out_dir, f"deals-{rows}.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["Deal Id", "Name", "Amount", "Currency", "Stage", "Close Date", "Company Id", "Contact Index"])
        for i in range(1, n_deals + 1):
            w.writerow([f"D{i:07d}", f"Deal {i}", f"{rng.randint(100, 500000)}.{rng.randint(0, 99):02d}",
                        rng.choice(["USD", "EUR", "CNY"]), rng.choice(["lead", "qualified", "proposal", "won", "lost"]),
                        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", f"C{rng.randint(1, n_comp):07d}",
                        rng.randint(1, rows)])
    with open(os.path.join(out_dir, f"activities-{rows}.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["Activity Id", "Kind", "Subject", "Occurred At", "Contact Index", "Deal Id"])
        for i in range(1, n_act + 1):
            w.writerow([f"A{i:08d}", rng.choice(["call", "email", "meeting", "note"]),
                        " ".join(rng.choice(WORDS) for _ in range(4)),
                        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+08:00",
                        rng.randint(1, rows), f"D{rng.randint(1, n_deals):07d}"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "data"))
    ap.add_argument("--seed", type=int, default=20261122)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, f"customers-{args.rows}.csv")
    write_customers(base, args.rows, args.seed)
    write_changed(base, os.path.join(args.out, f"customers-{args.rows}-changed.csv"), args.rows, args.seed)
    write_related(args.out, args.rows, args.seed)


if __name__ == "__main__":
    main()
