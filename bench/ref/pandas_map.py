"""Reference: the same 12-field mapping as bench/customers.toml, in pandas.

Trim names, lower-case and validate e-mails, phones to E.164 (North American
numbers by pattern), ISO dates, country names to ISO codes, URL check;
invalid rows are dropped into a rejects file, the rest written as NDJSON.
"""
import re
import sys

import pandas as pd

COUNTRIES = {
    "United States": "US", "USA": "US", "Canada": "CA", "United Kingdom": "GB", "Germany": "DE", "France": "FR",
    "Australia": "AU", "Japan": "JP", "Mexico": "MX", "Brazil": "BR", "India": "IN", "Netherlands": "NL",
    "Sweden": "SE", "Spain": "ES", "Italy": "IT", "China": "CN", "中国": "CN",
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def phone(s: pd.Series, cn: pd.Series) -> pd.Series:
    """To E.164: `+` numbers as written, the rest in the row's country
    (`cn`: China, else North America), as `region_from = "Country"` does."""
    main = s.str.replace(r"\s*(x|ext\.?|#)\s*(\d+)$", "", regex=True, flags=re.I)
    ext = s.str.extract(r"(?:x|ext\.?|#)\s*(\d+)$", flags=re.I)[0]
    plus = main.str.strip().str.startswith("+")
    digits = main.str.replace(r"\D", "", regex=True)
    national = ("1" + digits.where(digits.str.len() != 11, digits.str[1:])).where(~cn, "86" + digits)
    e164 = digits.where(plus, national)
    out = "+" + e164
    out = out.where(ext.isna(), out + ";ext=" + ext.fillna(""))
    return out.where(s.str.len() > 0, "")


def main(src: str, dst: str) -> None:
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    cn = df["Country"].map(COUNTRIES) == "CN"
    out = pd.DataFrame({
        "custom.customer_id": df["Customer Id"],
        "first_name": df["First Name"].str.strip(),
        "last_name": df["Last Name"].str.strip(),
        "company.name": df["Company"].str.strip(),
        "address.city": df["City"],
        "address.country": df["Country"].map(COUNTRIES),
        "phone": phone(df["Phone 1"], cn),
        "mobile": phone(df["Phone 2"], cn),
        "email": df["Email"].str.strip().str.lower(),
        "subscribed_at": pd.to_datetime(df["Subscription Date"], format="%Y-%m-%d", errors="coerce").dt.strftime("%Y-%m-%d"),
        "custom.website": df["Website"],
        "notes": df["Notes"],
    })
    bad = ~out["email"].str.match(EMAIL) | out["address.country"].isna() | out["subscribed_at"].isna()
    df[bad].to_csv(dst + ".rejects.csv", index=False)
    out[~bad].to_json(dst, orient="records", lines=True, force_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
