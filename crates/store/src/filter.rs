//! `crmsync export --where EXPR`: the filter language users type on the
//! command line, parsed into an [`Expr`] and compiled to SQL that runs
//! unchanged on SQLite and PostgreSQL, every value bound as a parameter.
//!
//! ```text
//! expr     := or
//! or       := and ("or" and)*
//! and      := unary ("and" unary)*
//! unary    := "not" unary | primary
//! primary  := "(" expr ")"
//!           | field cmp literal                  cmp: = != <> < > <= >=
//!           | field ["not"] "like" 'pattern'     % and _ wildcards (\% and \_ literal), case-insensitive
//!           | field ["not"] "in" "(" literal ("," literal)* ")"
//!           | field "is" ["not"] "null"
//! field    := (letter | "_") (letter | digit | "_" | ".")*     e.g. address.city, custom.vip
//!           | `any text`                         e.g. `external_id.my erp`, `custom.Häufigkeit (%)`
//! literal  := 'text' | "text" | -?digits[.digits] | true | false
//! ```
//!
//! Keywords are case-insensitive. A field name in backquotes may hold any
//! character (a custom field or another system's name with spaces). Inside
//! quotes the quote character is doubled (`'O''Brien'`); there are no
//! backslash escapes, so Windows paths
//! and regex-looking text survive the shell as typed. Error positions count
//! characters, not bytes, so they point at the right place in Chinese text.

/// Deeper expressions are refused: the parser and compiler recurse, and
/// SQLite refuses expression trees deeper than 1000 anyway.
const MAX_DEPTH: usize = 128;

const OPERATORS: &str = "operators are = != <> < > <= >= like in is";

const KEYWORDS: &[&str] = &["and", "or", "not", "like", "in", "is", "null", "true", "false"];

/// A parsed `--where` expression.
///
/// `at` in the conditions is the 1-based character position of `field` in
/// the `--where` text, so that [`compile`] can point at the field when the
/// [`Resolver`] refuses it or its value.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Compare { field: String, op: CmpOp, value: Literal, at: usize },
    Like { field: String, pattern: String, negated: bool, at: usize },
    In { field: String, values: Vec<Literal>, negated: bool, at: usize },
    IsNull { field: String, negated: bool, at: usize },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// A comparison operator; `<>` parses as [`CmpOp::Ne`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl CmpOp {
    fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Gt => ">",
            CmpOp::Le => "<=",
            CmpOp::Ge => ">=",
        }
    }
}

/// A value as the user typed it; numbers keep their text so that the
/// resolver decides how precise they are.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Number(String),
    Bool(bool),
}

/// A `--where` that cannot be parsed or compiled: `position` is the 1-based character where the problem is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("--where: at character {position}: {message}")]
pub struct FilterError {
    pub position: usize,
    pub message: String,
}

impl FilterError {
    fn new(position: usize, message: impl Into<String>) -> Self {
        Self { position, message: message.into() }
    }
}

/// Parses the text of `--where`.
pub fn parse(text: &str) -> Result<Expr, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.iter().all(|c| c.is_whitespace()) {
        return Err(FilterError::new(1, "the expression is empty"));
    }
    let mut parser = Parser { chars: &chars, tokens: lex(&chars), pos: 0, nesting: 0 };
    let (expr, _) = parser.parse_or()?;
    let next = parser.peek()?.clone();
    match next.tok {
        Tok::End => Ok(expr),
        Tok::RParen => Err(parser.error_at(&next, "`)` has no matching `(`")),
        _ => Err(parser.error_at(
            &next,
            format!(
                "unexpected {} after a complete expression; join conditions with `and` or `or`",
                parser.describe(&next)
            ),
        )),
    }
}

impl Expr {
    /// Every field the expression names, in order of first appearance, without repeats.
    pub fn fields(&self) -> Vec<&str> {
        let mut fields = Vec::new();
        self.collect_fields(&mut fields);
        fields
    }

    fn collect_fields<'a>(&'a self, fields: &mut Vec<&'a str>) {
        match self {
            Expr::Compare { field, .. }
            | Expr::Like { field, .. }
            | Expr::In { field, .. }
            | Expr::IsNull { field, .. } => {
                if !fields.contains(&field.as_str()) {
                    fields.push(field);
                }
            }
            Expr::And(left, right) | Expr::Or(left, right) => {
                left.collect_fields(fields);
                right.collect_fields(fields);
            }
            Expr::Not(inner) => inner.collect_fields(fields),
        }
    }
}

/// What the compiler needs to know about the store's columns.
pub trait Resolver {
    /// The SQL expression that reads `field` (e.g. `t.email`, or a JSON extraction for `custom.*`).
    /// `literal` is the value it is compared with, if any, so that the resolver can cast
    /// (numbers compare as numbers). Err(message) for a field the entity does not have.
    ///
    /// The expression is used as is, possibly twice, so it must not contain `?`
    /// placeholders. For `like` the literal is the pattern as text; for `in` it is the
    /// first value of the list.
    fn column(&self, field: &str, literal: Option<&Literal>) -> Result<String, String>;
    /// The parameter text bound for `literal` when compared with `field` (the resolver
    /// canonicalises dates, lowercases emails, ...). Err(message) when the literal cannot be a value of that field.
    ///
    /// Not called for `like` patterns: they are bound as typed, because
    /// canonicalising `'2024-%'` as a date would refuse a valid pattern.
    fn param(&self, field: &str, literal: &Literal) -> Result<String, String>;
    /// Other texts `literal` may be stored as in `field`, found as well
    /// where it is compared for (in)equality or listed by `in`: a phone
    /// number written without its country code is each number it can be.
    fn also(&self, _field: &str, _literal: &Literal) -> Vec<String> {
        Vec::new()
    }
    /// The SQL a parameter compared with `field` is written as (`?`, or
    /// the same function the column goes through).
    fn param_sql(&self, _field: &str, _literal: &Literal) -> String {
        "?".to_string()
    }
    /// The column and parameter SQL of `field` ordered (`<`, `>`, `<=`,
    /// `>=`) against `literal`, where that orders otherwise than it
    /// compares for equality: a text field against a number orders as
    /// numbers (`postal_code > 10000`), though `= 007` compares as text.
    fn ordered(&self, _field: &str, _literal: &Literal) -> Option<(String, String)> {
        None
    }
    /// `expr` with its letters' case folded, for `like`.
    fn fold(&self, expr: &str) -> String {
        format!("lower({expr})")
    }
    /// The SQL expression that reads `field` as the text `like` matches.
    fn text_column(&self, field: &str, pattern: &str) -> Result<String, String> {
        self.column(field, Some(&Literal::Text(pattern.to_string())))
    }
}

/// Appends the SQL for `expr` to `sql`, with `?` placeholders whose values are pushed to `params` in order.
///
/// On error `sql` and `params` are left as they were, so a caller never runs
/// half a condition.
pub fn compile(
    expr: &Expr,
    resolver: &dyn Resolver,
    sql: &mut String,
    params: &mut Vec<String>,
) -> Result<(), FilterError> {
    let (sql_len, params_len) = (sql.len(), params.len());
    let result = compile_into(expr, resolver, sql, params);
    if result.is_err() {
        sql.truncate(sql_len);
        params.truncate(params_len);
    }
    result
}

/// A `like` pattern whose backslashes escape only `%`, `_` and a
/// backslash (`100\%`): one before another character is itself, as in
/// `'C:\Users%'`, where the database would drop it and match nothing.
fn backslashes_kept(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('%' | '_' | '\\')) => {
                out.push(c);
                out.extend(chars.next());
            }
            ('\\', _) => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out
}

fn compile_into(
    expr: &Expr,
    resolver: &dyn Resolver,
    sql: &mut String,
    params: &mut Vec<String>,
) -> Result<(), FilterError> {
    let column = |field: &str, literal: Option<&Literal>, at: usize| {
        resolver.column(field, literal).map_err(|message| FilterError::new(at, message))
    };
    let param = |field: &str, literal: &Literal, at: usize| {
        resolver.param(field, literal).map_err(|message| FilterError::new(at, message))
    };
    match expr {
        Expr::Compare { field, op, value, at } => {
            let ordering = matches!(op, CmpOp::Lt | CmpOp::Gt | CmpOp::Le | CmpOp::Ge);
            let (col, p) = match ordering.then(|| resolver.ordered(field, value)).flatten() {
                Some(pair) => pair,
                None => (column(field, Some(value), *at)?, resolver.param_sql(field, value)),
            };
            params.push(param(field, value, *at)?);
            let also = if matches!(op, CmpOp::Eq | CmpOp::Ne) { resolver.also(field, value) } else { Vec::new() };
            let list = || vec![p.as_str(); 1 + also.len()].join(", ");
            // A missing value is "not equal" to anything, as users expect.
            match op {
                CmpOp::Ne if also.is_empty() => sql.push_str(&format!("({col} IS NULL OR {col} <> {p})")),
                CmpOp::Ne => sql.push_str(&format!("({col} IS NULL OR {col} NOT IN ({}))", list())),
                CmpOp::Eq if !also.is_empty() => sql.push_str(&format!("({col} IN ({}))", list())),
                _ => sql.push_str(&format!("({col} {} {p})", op.sql())),
            }
            params.extend(also);
        }
        Expr::Like { field, pattern, negated, at } => {
            let col = resolver.text_column(field, pattern).map_err(|message| FilterError::new(*at, message))?;
            params.push(backslashes_kept(pattern));
            // Folded on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
            let (folded, pattern) = (resolver.fold(&col), resolver.fold("?"));
            if *negated {
                sql.push_str(&format!("({col} IS NULL OR {folded} NOT LIKE {pattern} ESCAPE '\\')"));
            } else {
                sql.push_str(&format!("({folded} LIKE {pattern} ESCAPE '\\')"));
            }
        }
        Expr::In { field, values, negated, at } => {
            if values.is_empty() {
                // `IN ()` is a syntax error in SQL; the parser never builds it.
                return Err(FilterError::new(*at, "an `in` list needs at least one value"));
            }
            // Values of one kind compare alike (`5` as a number, `'seven'`
            // as text): a list of several kinds is a list per kind, each
            // compared as its kind is, as `=` would.
            let mut kinds: Vec<(String, String, Vec<&Literal>)> = Vec::new();
            for value in values {
                let col = column(field, Some(value), *at)?;
                let p = resolver.param_sql(field, value);
                match kinds.iter_mut().find(|(c, q, _)| *c == col && *q == p) {
                    Some((_, _, of)) => of.push(value),
                    None => kinds.push((col, p, vec![value])),
                }
            }
            let mut clauses = Vec::with_capacity(kinds.len());
            for (col, p, of) in &kinds {
                let first = params.len();
                for value in of {
                    params.push(param(field, value, *at)?);
                    params.extend(resolver.also(field, value));
                }
                let placeholders = vec![p.as_str(); params.len() - first].join(", ");
                clauses.push(if *negated {
                    format!("({col} IS NULL OR {col} NOT IN ({placeholders}))")
                } else {
                    format!("({col} IN ({placeholders}))")
                });
            }
            match clauses.as_slice() {
                [one] => sql.push_str(one),
                many => sql.push_str(&format!("({})", many.join(if *negated { " AND " } else { " OR " }))),
            }
        }
        Expr::IsNull { field, negated, at } => {
            let col = column(field, None, *at)?;
            let not = if *negated { " NOT" } else { "" };
            sql.push_str(&format!("({col} IS{not} NULL)"));
        }
        Expr::Or(..) if merges_into_in(expr) => {
            // `x = 1 or x = 2 or …` over one field is `x in (1, 2, …)`: one
            // look at the field per record, not one per alternative (300
            // over a custom field on 100k contacts took 23 s, as `in` 0.2 s).
            let mut terms = Vec::new();
            or_terms(expr, &mut terms);
            // (Values of several kinds are split again by `in`, as `=` would
            // compare each.) Per field: its first term, and its values.
            let mut groups: Vec<(&Expr, Vec<Literal>)> = Vec::new();
            let mut others: Vec<&Expr> = Vec::new();
            for t in terms {
                match t {
                    Expr::Compare { field, op: CmpOp::Eq, value, .. } => {
                        let same = |g: &&mut (&Expr, Vec<Literal>)| matches!(g.0, Expr::Compare { field: f, .. } if f == field);
                        match groups.iter_mut().find(same) {
                            Some(g) => g.1.push(value.clone()),
                            None => groups.push((t, vec![value.clone()])),
                        }
                    }
                    other => others.push(other),
                }
            }
            let mut parts: Vec<Expr> = groups
                .into_iter()
                .map(|(first, values)| match first {
                    Expr::Compare { field, at, .. } if values.len() > 1 => {
                        Expr::In { field: field.clone(), values, negated: false, at: *at }
                    }
                    _ => first.clone(),
                })
                .collect();
            parts.extend(others.into_iter().cloned());
            sql.push('(');
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    sql.push_str(" OR ");
                }
                compile_into(part, resolver, sql, params)?;
            }
            sql.push(')');
        }
        Expr::And(left, right) | Expr::Or(left, right) => {
            let joiner = if matches!(expr, Expr::And(..)) { " AND " } else { " OR " };
            sql.push('(');
            compile_into(left, resolver, sql, params)?;
            sql.push_str(joiner);
            compile_into(right, resolver, sql, params)?;
            sql.push(')');
        }
        Expr::Not(inner) => {
            // Two-valued: a condition on a missing value is false, so its
            // opposite holds (`not (x = 1)` keeps the records without x, as
            // `x != 1` does), where SQL's NOT of NULL is NULL.
            sql.push('(');
            compile_into(inner, resolver, sql, params)?;
            sql.push_str(" IS NOT TRUE)");
        }
    }
    Ok(())
}

/// The terms of a chain of `or`, in order.
fn or_terms<'a>(expr: &'a Expr, out: &mut Vec<&'a Expr>) {
    match expr {
        Expr::Or(left, right) => {
            or_terms(left, out);
            or_terms(right, out);
        }
        other => out.push(other),
    }
}

/// Whether a chain of `or` has two equalities or more over one field.
fn merges_into_in(expr: &Expr) -> bool {
    let mut terms = Vec::new();
    or_terms(expr, &mut terms);
    let mut fields: Vec<&str> = terms
        .iter()
        .filter_map(|t| match t {
            Expr::Compare { field, op: CmpOp::Eq, .. } => Some(field.as_str()),
            _ => None,
        })
        .collect();
    let n = fields.len();
    fields.sort_unstable();
    fields.dedup();
    fields.len() < n
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A field name or a keyword; which one depends on where it stands.
    Word(String),
    /// A field name in backquotes (without them).
    Field(String),
    Text(String),
    Number(String),
    Op(CmpOp),
    LParen,
    RParen,
    Comma,
    End,
    /// The text cannot be read past here. Kept as a token rather than
    /// returned at once so that an earlier grammar error is reported first.
    Bad(FilterError),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 0-based character indices, `end` exclusive.
    start: usize,
    end: usize,
}

fn is_field_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_field_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

/// Reads tokens up to the end of the text or the first unreadable one, which
/// becomes the last token.
fn lex(chars: &[char]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let start = i;
        match lex_one(chars, &mut i) {
            Ok(Tok::End) => {
                tokens.push(Token { tok: Tok::End, start, end: start });
                return tokens;
            }
            Ok(tok) => tokens.push(Token { tok, start, end: i }),
            Err(error) => {
                tokens.push(Token { tok: Tok::Bad(error), start, end: start });
                return tokens;
            }
        }
    }
}

fn lex_one(chars: &[char], i: &mut usize) -> Result<Tok, FilterError> {
    let start = *i;
    let Some(&c) = chars.get(start) else {
        return Ok(Tok::End);
    };
    let next = chars.get(start + 1).copied();
    *i += 1;
    match c {
        '(' => Ok(Tok::LParen),
        ')' => Ok(Tok::RParen),
        ',' => Ok(Tok::Comma),
        '\'' | '"' => lex_quoted(chars, i, c),
        '`' => match lex_quoted(chars, i, c)? {
            Tok::Text(name) if !name.trim().is_empty() => Ok(Tok::Field(name)),
            _ => Err(FilterError::new(start + 1, "an empty field name in backquotes")),
        },
        '=' | '!' | '<' | '>' => {
            while chars.get(*i).is_some_and(|c| matches!(c, '=' | '!' | '<' | '>')) {
                *i += 1;
            }
            let op: String = chars[start..*i].iter().collect();
            match op.as_str() {
                "=" => Ok(Tok::Op(CmpOp::Eq)),
                "!=" | "<>" => Ok(Tok::Op(CmpOp::Ne)),
                "<" => Ok(Tok::Op(CmpOp::Lt)),
                ">" => Ok(Tok::Op(CmpOp::Gt)),
                "<=" => Ok(Tok::Op(CmpOp::Le)),
                ">=" => Ok(Tok::Op(CmpOp::Ge)),
                _ => {
                    let hint = match op.as_str() {
                        "==" => " (did you mean `=`?)",
                        "!==" | "=!" => " (did you mean `!=`?)",
                        "=<" => " (did you mean `<=`?)",
                        "=>" => " (did you mean `>=`?)",
                        "!" => " (for the opposite of a condition write `not`)",
                        _ => "",
                    };
                    Err(FilterError::new(start + 1, format!("unknown operator `{op}`{hint}; {OPERATORS}")))
                }
            }
        }
        '-' if next.is_some_and(|n| n.is_ascii_digit()) => lex_number(chars, i, start),
        c if c.is_ascii_digit() => lex_number(chars, i, start),
        c if is_field_start(c) => {
            while chars.get(*i).is_some_and(|&c| is_field_char(c)) {
                *i += 1;
            }
            Ok(Tok::Word(chars[start..*i].iter().collect()))
        }
        '-' if start > 0 && is_field_char(chars[start - 1]) => {
            // Reached only after a word: `first-name` is one field to the user.
            let mut from = start;
            while from > 0 && (is_field_char(chars[from - 1]) || chars[from - 1] == '-') {
                from -= 1;
            }
            let mut to = start;
            while to < chars.len() && (is_field_char(chars[to]) || chars[to] == '-') {
                to += 1;
            }
            let name: String = chars[from..to].iter().collect();
            Err(FilterError::new(
                start + 1,
                format!("`-` is not allowed in a field name (`{name}`); did you mean `{}`?", name.replace('-', "_")),
            ))
        }
        '&' | '|' => {
            let word = if c == '&' { "and" } else { "or" };
            let run = if next == Some(c) { format!("{c}{c}") } else { c.to_string() };
            Err(FilterError::new(start + 1, format!("`{run}` is not an operator here; join conditions with `{word}`")))
        }
        '‘' | '’' | '“' | '”' => Err(FilterError::new(
            start + 1,
            format!("unexpected character `{c}`: quote text with straight quotes ' or \""),
        )),
        _ => Err(FilterError::new(start + 1, format!("unexpected character `{c}`"))),
    }
}

/// `i` is just past the opening quote.
fn lex_quoted(chars: &[char], i: &mut usize, quote: char) -> Result<Tok, FilterError> {
    let open = *i - 1;
    let mut text = String::new();
    loop {
        match chars.get(*i) {
            None => {
                return Err(FilterError::new(
                    open + 1,
                    format!("unterminated quoted text starting at character {}", open + 1),
                ));
            }
            Some(&c) if c == quote => {
                if chars.get(*i + 1) == Some(&quote) {
                    text.push(quote);
                    *i += 2;
                } else {
                    *i += 1;
                    return Ok(Tok::Text(text));
                }
            }
            Some(&c) => {
                text.push(c);
                *i += 1;
            }
        }
    }
}

/// `i` is just past the first character (a digit or `-`).
fn lex_number(chars: &[char], i: &mut usize, start: usize) -> Result<Tok, FilterError> {
    let digits = |i: &mut usize| {
        while chars.get(*i).is_some_and(|c| c.is_ascii_digit()) {
            *i += 1;
        }
    };
    digits(i);
    if chars.get(*i) == Some(&'.') && chars.get(*i + 1).is_some_and(|c| c.is_ascii_digit()) {
        *i += 1;
        digits(i);
    }
    // Unquoted dates, times, phone numbers and `12abc` would otherwise split
    // into several tokens and give a confusing error further on.
    if chars.get(*i).is_some_and(|&c| is_field_char(c) || matches!(c, '-' | ':' | '/' | '+')) {
        let run = bare_run(chars, start);
        return Err(FilterError::new(start + 1, format!("`{run}` is not a number; quote it: '{run}'")));
    }
    Ok(Tok::Number(chars[start..*i].iter().collect()))
}

/// The unquoted text from `start` up to a space, parenthesis, comma, quote or
/// operator: what the user meant as one value.
fn bare_run(chars: &[char], start: usize) -> String {
    chars[start..]
        .iter()
        .take_while(|&&c| !c.is_whitespace() && !matches!(c, '(' | ')' | ',' | '\'' | '"' | '=' | '!' | '<' | '>'))
        .collect()
}

fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| word.eq_ignore_ascii_case(k))
}

/// A keyword that is not also a value (`and`, `in`, ... but not `true`).
fn is_kw_only(tok: &Tok) -> bool {
    matches!(tok, Tok::Word(w) if is_keyword(w) && !w.eq_ignore_ascii_case("true") && !w.eq_ignore_ascii_case("false"))
}

fn is_kw(tok: &Tok, keyword: &str) -> bool {
    matches!(tok, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
}

struct Parser<'a> {
    chars: &'a [char],
    /// Always ends with `End` or `Bad`.
    tokens: Vec<Token>,
    pos: usize,
    /// Open parentheses and `not`s around the current point, to bound recursion.
    nesting: usize,
}

/// An expression and the depth of its tree.
type Parsed = (Expr, usize);

impl Parser<'_> {
    fn peek(&self) -> Result<&Token, FilterError> {
        let token = &self.tokens[self.pos.min(self.tokens.len() - 1)];
        match &token.tok {
            Tok::Bad(error) => Err(error.clone()),
            _ => Ok(token),
        }
    }

    fn next(&mut self) -> Result<Token, FilterError> {
        let token = self.peek()?.clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        Ok(token)
    }

    fn peek_kw(&self, keyword: &str) -> Result<bool, FilterError> {
        Ok(is_kw(&self.peek()?.tok, keyword))
    }

    fn source(&self, token: &Token) -> String {
        self.chars[token.start..token.end].iter().collect()
    }

    /// How a message names a token: its text in backticks, shortened.
    fn describe(&self, token: &Token) -> String {
        if token.tok == Tok::End {
            return "end of expression".to_string();
        }
        let text = self.source(token);
        if text.chars().count() > 40 {
            format!("`{}…`", text.chars().take(40).collect::<String>())
        } else {
            format!("`{text}`")
        }
    }

    fn error_at(&self, token: &Token, message: impl Into<String>) -> FilterError {
        FilterError::new(token.start + 1, message)
    }

    /// The token before the current one, for "after `x`" in messages.
    fn previous(&self) -> Option<&Token> {
        self.pos.checked_sub(1).map(|p| &self.tokens[p])
    }

    fn too_deep(&self, token: &Token) -> FilterError {
        self.error_at(
            token,
            format!(
                "the expression is nested too deeply (more than {MAX_DEPTH} levels of `and`, `or`, `not` and \
                 parentheses); for many values of one field use `in (...)`"
            ),
        )
    }

    fn enter(&mut self, token: &Token) -> Result<(), FilterError> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(self.too_deep(token));
        }
        Ok(())
    }

    fn parse_or(&mut self) -> Result<Parsed, FilterError> {
        let mut terms = vec![self.parse_and()?];
        let mut op = None;
        while self.peek_kw("or")? {
            op = Some(self.next()?);
            terms.push(self.parse_and()?);
        }
        self.chain(terms, op, Expr::Or)
    }

    fn parse_and(&mut self) -> Result<Parsed, FilterError> {
        let mut terms = vec![self.parse_unary()?];
        let mut op = None;
        while self.peek_kw("and")? {
            op = Some(self.next()?);
            terms.push(self.parse_unary()?);
        }
        self.chain(terms, op, Expr::And)
    }

    /// Terms of one operator, `a or b or c …`, as a balanced tree: a long
    /// list of alternatives (130 e-mails a spreadsheet joined with `or`) is
    /// as deep as its logarithm, not its length.
    fn chain(
        &self,
        terms: Vec<Parsed>,
        op: Option<Token>,
        join: fn(Box<Expr>, Box<Expr>) -> Expr,
    ) -> Result<Parsed, FilterError> {
        fn balanced(mut terms: Vec<Parsed>, join: fn(Box<Expr>, Box<Expr>) -> Expr) -> Parsed {
            if terms.len() == 1 {
                return terms.pop().expect("one term");
            }
            let right = terms.split_off(terms.len().div_ceil(2));
            let (l, ld) = balanced(terms, join);
            let (r, rd) = balanced(right, join);
            (join(Box::new(l), Box::new(r)), ld.max(rd) + 1)
        }
        let (expr, depth) = balanced(terms, join);
        match op {
            Some(op) if depth > MAX_DEPTH => Err(self.too_deep(&op)),
            _ => Ok((expr, depth)),
        }
    }

    fn parse_unary(&mut self) -> Result<Parsed, FilterError> {
        if !self.peek_kw("not")? {
            return self.parse_primary();
        }
        let not = self.next()?;
        self.enter(&not)?;
        let (inner, depth) = self.parse_unary()?;
        self.nesting -= 1;
        if depth + 1 > MAX_DEPTH {
            return Err(self.too_deep(&not));
        }
        Ok((Expr::Not(Box::new(inner)), depth + 1))
    }

    fn parse_primary(&mut self) -> Result<Parsed, FilterError> {
        let token = self.peek()?.clone();
        match &token.tok {
            Tok::LParen => {
                self.next()?;
                self.enter(&token)?;
                let parsed = self.parse_or()?;
                self.nesting -= 1;
                let close = self.peek()?.clone();
                match close.tok {
                    Tok::RParen => {
                        self.next()?;
                        Ok(parsed)
                    }
                    Tok::End => Err(self.error_at(
                        &close,
                        format!(
                            "expected `)` to close the `(` at character {}, found end of expression",
                            token.start + 1
                        ),
                    )),
                    _ => Err(self.error_at(
                        &close,
                        format!(
                            "expected `)` to close the `(` at character {}, or `and`/`or` to join another condition, \
                             found {}",
                            token.start + 1,
                            self.describe(&close)
                        ),
                    )),
                }
            }
            Tok::Word(word) if !is_keyword(word) => Ok((self.parse_condition()?, 1)),
            Tok::Field(_) => Ok((self.parse_condition()?, 1)),
            _ => {
                let after = match self.previous() {
                    Some(previous) => format!(" after {}", self.describe(previous)),
                    None => String::new(),
                };
                let mut message = format!("expected a condition{after}, found {}", self.describe(&token));
                if token.tok != Tok::End {
                    message.push_str("; a condition starts with a field name, `not` or `(`");
                }
                Err(self.error_at(&token, message))
            }
        }
    }

    /// A field and what is said about it.
    fn parse_condition(&mut self) -> Result<Expr, FilterError> {
        let name = self.next()?;
        let field = match &name.tok {
            Tok::Field(field) => field.clone(),
            _ => self.source(&name),
        };
        if field.split('.').any(str::is_empty) {
            return Err(self
                .error_at(&name, format!("`{field}` is not a field name: dots separate names, as in `address.city`")));
        }
        let at = name.start + 1;
        let token = self.peek()?.clone();
        match &token.tok {
            Tok::Op(op) => {
                self.next()?;
                let value = self.compared_value(&token, *op)?;
                Ok(Expr::Compare { field, op: *op, value, at })
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => {
                self.next()?;
                let then = self.peek()?.clone();
                if is_kw(&then.tok, "like") {
                    self.next()?;
                    let pattern = self.pattern(&then, true)?;
                    Ok(Expr::Like { field, pattern, negated: true, at })
                } else if is_kw(&then.tok, "in") {
                    self.next()?;
                    let values = self.in_list()?;
                    Ok(Expr::In { field, values, negated: true, at })
                } else {
                    let hint = if is_kw(&then.tok, "null") { "; write `is not null`" } else { "" };
                    Err(self.error_at(
                        &then,
                        format!("expected `like` or `in` after `not`, found {}{hint}", self.describe(&then)),
                    ))
                }
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("like") => {
                self.next()?;
                let pattern = self.pattern(&token, false)?;
                Ok(Expr::Like { field, pattern, negated: false, at })
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("in") => {
                self.next()?;
                let values = self.in_list()?;
                Ok(Expr::In { field, values, negated: false, at })
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("is") => {
                self.next()?;
                let negated = self.peek_kw("not")?;
                if negated {
                    self.next()?;
                }
                let null = self.peek()?.clone();
                if is_kw(&null.tok, "null") {
                    self.next()?;
                    return Ok(Expr::IsNull { field, negated, at });
                }
                let is = if negated { "is not" } else { "is" };
                let hint = match (&null.tok, negated) {
                    (Tok::Word(w), false) if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") => {
                        format!("; write `= {}`", w.to_ascii_lowercase())
                    }
                    (Tok::Word(w), true) if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") => {
                        format!("; write `!= {}`", w.to_ascii_lowercase())
                    }
                    _ => String::new(),
                };
                Err(self.error_at(&null, format!("expected `null` after `{is}`, found {}{hint}", self.describe(&null))))
            }
            Tok::Word(w) if !is_keyword(w) => {
                Err(self.error_at(&token, format!("unknown operator {}; {OPERATORS}", self.describe(&token))))
            }
            Tok::Text(_) | Tok::Number(_) => Err(self.error_at(
                &token,
                format!("expected an operator between `{field}` and {}; {OPERATORS}", self.describe(&token)),
            )),
            _ => Err(self.error_at(
                &token,
                format!("expected an operator after `{field}`, found {}; {OPERATORS}", self.describe(&token)),
            )),
        }
    }

    /// A literal where a value is expected; `None` for anything else, including `null`.
    fn literal(tok: &Tok) -> Option<Literal> {
        match tok {
            Tok::Text(text) => Some(Literal::Text(text.clone())),
            Tok::Number(number) => Some(Literal::Number(number.clone())),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Some(Literal::Bool(true)),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Some(Literal::Bool(false)),
            _ => None,
        }
    }

    /// The message for a token that should have been a value.
    fn not_a_value(&self, token: &Token, expected: String) -> FilterError {
        let mut message = format!("{expected}, found {}", self.describe(token));
        if matches!(&token.tok, Tok::Word(w) if !is_keyword(w)) {
            message.push_str(&format!("; quote text: '{}'", bare_run(self.chars, token.start)));
        }
        self.error_at(token, message)
    }

    fn compared_value(&mut self, op_token: &Token, op: CmpOp) -> Result<Literal, FilterError> {
        let token = self.peek()?.clone();
        let op_text = self.source(op_token);
        if let Some(literal) = Self::literal(&token.tok) {
            self.next()?;
            return Ok(literal);
        }
        if is_kw(&token.tok, "null") {
            // SQL's `x = NULL` is never true: tell the user rather than return nothing.
            let instead = match op {
                CmpOp::Eq => "write `is null`",
                CmpOp::Ne => "write `is not null`",
                _ => "use `is null` or `is not null`",
            };
            return Err(self.error_at(op_token, format!("`{op_text} null` never matches: {instead}")));
        }
        Err(self.not_a_value(&token, format!("expected a value after `{op_text}`")))
    }

    fn pattern(&mut self, like: &Token, negated: bool) -> Result<String, FilterError> {
        let token = self.peek()?.clone();
        match &token.tok {
            Tok::Text(pattern) => {
                // `\` escapes the next character (`\%`, `\_`, `\\`); one left
                // at the end would escape nothing.
                let trailing = pattern.chars().rev().take_while(|c| *c == '\\').count();
                if trailing % 2 == 1 {
                    return Err(self.error_at(
                        &token,
                        "a like pattern cannot end with a single `\\` (it escapes the next character; \
                         write `\\\\` for a backslash)"
                            .to_string(),
                    ));
                }
                self.next()?;
                Ok(pattern.clone())
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => {
                let (op, instead) = if negated { ("not like", "is not null") } else { ("like", "is null") };
                Err(self.error_at(like, format!("`{op} null` never matches: write `{instead}`")))
            }
            // A number, `true` or a bare word: the user meant it as text.
            Tok::Number(_) | Tok::Word(_) if !is_kw_only(&token.tok) => {
                let run = bare_run(self.chars, token.start);
                Err(self.error_at(
                    &token,
                    format!(
                        "expected a quoted pattern after `like`, found {}; quote it: '{run}'",
                        self.describe(&token)
                    ),
                ))
            }
            _ => Err(self
                .error_at(&token, format!("expected a quoted pattern after `like`, found {}", self.describe(&token)))),
        }
    }

    fn in_list(&mut self) -> Result<Vec<Literal>, FilterError> {
        let open = self.peek()?.clone();
        if open.tok != Tok::LParen {
            return Err(self.error_at(
                &open,
                format!("expected `(` after `in`, found {}; write a list as in ('a', 'b')", self.describe(&open)),
            ));
        }
        self.next()?;
        let mut values = Vec::new();
        loop {
            let token = self.peek()?.clone();
            if let Some(literal) = Self::literal(&token.tok) {
                self.next()?;
                values.push(literal);
            } else if token.tok == Tok::RParen && values.is_empty() {
                return Err(self.error_at(&token, "an `in` list needs at least one value"));
            } else if is_kw(&token.tok, "null") {
                // `x IN (1, NULL)` never matches through the null, and `NOT IN` with one never matches at all.
                return Err(self.error_at(
                    &token,
                    "`null` in an `in` list never matches: add `or FIELD is null` (or `and FIELD is not null`) instead",
                ));
            } else {
                let after = self.previous().map(|p| self.describe(p)).unwrap_or_default();
                return Err(self.not_a_value(&token, format!("expected a value after {after}")));
            }
            let token = self.peek()?.clone();
            match token.tok {
                Tok::Comma => {
                    self.next()?;
                }
                Tok::RParen => {
                    self.next()?;
                    return Ok(values);
                }
                _ => {
                    return Err(self.error_at(
                        &token,
                        format!(
                            "expected `,` or `)` in the `in` list opened at character {}, found {}",
                            open.start + 1,
                            self.describe(&token)
                        ),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Expr {
        match parse(text) {
            Ok(expr) => expr,
            Err(error) => panic!("{text:?} should parse: {error}"),
        }
    }

    fn error(text: &str) -> (usize, String) {
        match parse(text) {
            Ok(expr) => panic!("{text:?} should not parse, got {expr:?}"),
            Err(error) => (error.position, error.message),
        }
    }

    fn text(s: &str) -> Literal {
        Literal::Text(s.to_string())
    }

    fn num(s: &str) -> Literal {
        Literal::Number(s.to_string())
    }

    fn eq(field: &str, value: Literal, at: usize) -> Expr {
        Expr::Compare { field: field.to_string(), op: CmpOp::Eq, value, at }
    }

    fn and(l: Expr, r: Expr) -> Expr {
        Expr::And(Box::new(l), Box::new(r))
    }

    fn or(l: Expr, r: Expr) -> Expr {
        Expr::Or(Box::new(l), Box::new(r))
    }

    fn not(x: Expr) -> Expr {
        Expr::Not(Box::new(x))
    }

    /// Columns of a contacts table, with `custom.*` in JSON cast to a number
    /// when compared with one.
    struct Contacts;

    impl Resolver for Contacts {
        fn column(&self, field: &str, literal: Option<&Literal>) -> Result<String, String> {
            if let Some(key) = field.strip_prefix("custom.") {
                return Ok(match literal {
                    Some(Literal::Number(_)) => format!("CAST(json_extract(t.custom, '$.{key}') AS REAL)"),
                    _ => format!("json_extract(t.custom, '$.{key}')"),
                });
            }
            match field {
                "email" | "name" | "score" | "vip" | "created" => Ok(format!("t.{field}")),
                "address.city" => Ok("t.address_city".to_string()),
                _ => Err(format!("contacts have no field `{field}`")),
            }
        }

        fn param(&self, field: &str, literal: &Literal) -> Result<String, String> {
            match (field, literal) {
                ("email", Literal::Text(t)) => Ok(t.to_lowercase()),
                ("score", Literal::Text(t)) => Err(format!("`{t}` is not a number")),
                (_, Literal::Text(t) | Literal::Number(t)) => Ok(t.clone()),
                (_, Literal::Bool(b)) => Ok(if *b { "1" } else { "0" }.to_string()),
            }
        }
    }

    fn sql(text: &str) -> (String, Vec<String>) {
        let mut sql = String::new();
        let mut params = Vec::new();
        if let Err(error) = compile(&parsed(text), &Contacts, &mut sql, &mut params) {
            panic!("{text:?} should compile: {error}");
        }
        (sql, params)
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
        assert_eq!(
            parsed("a = 1 or not b = 2 and c = 3"),
            or(eq("a", num("1"), 1), and(not(eq("b", num("2"), 14)), eq("c", num("3"), 24)))
        );
        assert_eq!(
            parsed("a = 1 and b = 2 or c = 3"),
            or(and(eq("a", num("1"), 1), eq("b", num("2"), 11)), eq("c", num("3"), 20))
        );
    }

    #[test]
    fn and_and_or_chain_to_the_left_within_halves() {
        assert_eq!(
            parsed("a=1 or b=2 or c=3"),
            or(or(eq("a", num("1"), 1), eq("b", num("2"), 8)), eq("c", num("3"), 15))
        );
    }

    #[test]
    fn parentheses_override_precedence() {
        assert_eq!(
            parsed("(a = 1 or b = 2) and c = 3"),
            and(or(eq("a", num("1"), 2), eq("b", num("2"), 11)), eq("c", num("3"), 22))
        );
        assert_eq!(parsed("not (a = 1)"), not(eq("a", num("1"), 6)));
        assert_eq!(parsed("((a = 1))"), eq("a", num("1"), 3));
        assert_eq!(parsed("not not a = 1"), not(not(eq("a", num("1"), 9))));
    }

    #[test]
    fn every_comparison_operator() {
        for (op_text, op) in [
            ("=", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            ("<>", CmpOp::Ne),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
        ] {
            assert_eq!(
                parsed(&format!("score {op_text} 5")),
                Expr::Compare { field: "score".to_string(), op, value: num("5"), at: 1 }
            );
            // Operators need no spaces around them.
            assert_eq!(
                parsed(&format!("score{op_text}5")),
                Expr::Compare { field: "score".to_string(), op, value: num("5"), at: 1 }
            );
        }
    }

    #[test]
    fn like_in_and_is_null_with_and_without_not() {
        assert_eq!(
            parsed("email like '%@acme.com'"),
            Expr::Like { field: "email".to_string(), pattern: "%@acme.com".to_string(), negated: false, at: 1 }
        );
        assert_eq!(
            parsed("name not like 'a_c%'"),
            Expr::Like { field: "name".to_string(), pattern: "a_c%".to_string(), negated: true, at: 1 }
        );
        assert_eq!(
            parsed("score in (1, 2,3)"),
            Expr::In { field: "score".to_string(), values: vec![num("1"), num("2"), num("3")], negated: false, at: 1 }
        );
        assert_eq!(
            parsed("name not in('a')"),
            Expr::In { field: "name".to_string(), values: vec![text("a")], negated: true, at: 1 }
        );
        assert_eq!(parsed("vip is null"), Expr::IsNull { field: "vip".to_string(), negated: false, at: 1 });
        assert_eq!(parsed("  vip is not null"), Expr::IsNull { field: "vip".to_string(), negated: true, at: 3 });
    }

    #[test]
    fn keywords_ignore_case_and_whitespace_is_free() {
        assert_eq!(
            parsed("NOT a IS NOT NULL AnD b Not In (TRUE, False) oR c LIKE 'x'"),
            or(
                and(
                    not(Expr::IsNull { field: "a".to_string(), negated: true, at: 5 }),
                    Expr::In {
                        field: "b".to_string(),
                        values: vec![Literal::Bool(true), Literal::Bool(false)],
                        negated: true,
                        at: 23,
                    }
                ),
                Expr::Like { field: "c".to_string(), pattern: "x".to_string(), negated: false, at: 49 }
            )
        );
        assert_eq!(parsed("\t a\n=\r\n'x'  "), eq("a", text("x"), 3));
        // A full-width space, as typed with a Chinese input method.
        assert_eq!(parsed("a\u{3000}= 1"), eq("a", num("1"), 1));
    }

    #[test]
    fn quotes_are_escaped_by_doubling() {
        assert_eq!(parsed("name = 'O''Brien'"), eq("name", text("O'Brien"), 1));
        assert_eq!(parsed(r#"name = "say ""hi""""#), eq("name", text(r#"say "hi""#), 1));
        assert_eq!(parsed(r#"name = "O'Brien""#), eq("name", text("O'Brien"), 1));
        assert_eq!(parsed(r#"name = 'C:\temp\'"#), eq("name", text(r"C:\temp\"), 1));
        assert_eq!(parsed("name = ''"), eq("name", text(""), 1));
        assert_eq!(parsed("name = 'and or ( )'"), eq("name", text("and or ( )"), 1));
    }

    #[test]
    fn unicode_values_and_field_names() {
        assert_eq!(parsed("address.city = '北京'"), eq("address.city", text("北京"), 1));
        assert_eq!(parsed("custom.城市 = 'x'"), eq("custom.城市", text("x"), 1));
        // Positions count characters: `b` is the 18th character, far fewer than its byte offset.
        assert_eq!(
            parsed("a = '北京市朝阳区' and b = 1"),
            and(eq("a", text("北京市朝阳区"), 1), eq("b", num("1"), 18))
        );
    }

    #[test]
    fn numbers_keep_their_text() {
        assert_eq!(parsed("score = -5"), eq("score", num("-5"), 1));
        assert_eq!(parsed("score >= -0.25"), parsed("score >= -0.25"));
        assert_eq!(
            parsed("score>=-0.25"),
            Expr::Compare { field: "score".to_string(), op: CmpOp::Ge, value: num("-0.25"), at: 1 }
        );
        assert_eq!(parsed("score = 007.50"), eq("score", num("007.50"), 1));
        assert_eq!(parsed("score = 12345678901234567890"), eq("score", num("12345678901234567890"), 1));
        assert_eq!(parsed("vip = true"), eq("vip", Literal::Bool(true), 1));
        assert_eq!(parsed("vip = 'true'"), eq("vip", text("true"), 1));
    }

    #[test]
    fn a_field_in_backquotes_may_hold_any_character() {
        assert_eq!(
            parsed("`external_id.my erp` is null"),
            Expr::IsNull { field: "external_id.my erp".to_string(), negated: false, at: 1 }
        );
        assert_eq!(parsed("`custom.a``b` = 'x'"), eq("custom.a`b", text("x"), 1));
        assert_eq!(
            parsed("not `and` = 1"),
            Expr::Not(Box::new(eq("and", num("1"), 5))),
            "a keyword is a name in quotes"
        );
        assert!(parse("`` = 1").is_err());
        assert!(parse("`open = 1").is_err());
    }

    #[test]
    fn fields_in_order_of_first_appearance() {
        let expr = parsed("b = 1 and (a is null or not b = 2) and custom.vip in (1) and a like 'x'");
        assert_eq!(expr.fields(), vec!["b", "a", "custom.vip"]);
    }

    #[test]
    fn compiles_each_condition() {
        assert_eq!(sql("name = 'Ann'"), ("(t.name = ?)".to_string(), strings(&["Ann"])));
        assert_eq!(sql("name != 'Ann'"), ("(t.name IS NULL OR t.name <> ?)".to_string(), strings(&["Ann"])));
        assert_eq!(sql("name <> 'Ann'"), ("(t.name IS NULL OR t.name <> ?)".to_string(), strings(&["Ann"])));
        assert_eq!(sql("score < 1"), ("(t.score < ?)".to_string(), strings(&["1"])));
        assert_eq!(sql("score > 1"), ("(t.score > ?)".to_string(), strings(&["1"])));
        assert_eq!(sql("score <= 1"), ("(t.score <= ?)".to_string(), strings(&["1"])));
        assert_eq!(sql("score >= 1"), ("(t.score >= ?)".to_string(), strings(&["1"])));
        assert_eq!(sql("name like 'A%'"), ("(lower(t.name) LIKE lower(?) ESCAPE '\\')".to_string(), strings(&["A%"])));
        assert_eq!(
            sql("name not like 'A%'"),
            ("(t.name IS NULL OR lower(t.name) NOT LIKE lower(?) ESCAPE '\\')".to_string(), strings(&["A%"]))
        );
        assert_eq!(sql("score in (1, 2)"), ("(t.score IN (?, ?))".to_string(), strings(&["1", "2"])));
        assert_eq!(sql("score not in (1)"), ("(t.score IS NULL OR t.score NOT IN (?))".to_string(), strings(&["1"])));
        assert_eq!(sql("vip is null"), ("(t.vip IS NULL)".to_string(), vec![]));
        assert_eq!(sql("vip is not null"), ("(t.vip IS NOT NULL)".to_string(), vec![]));
    }

    #[test]
    fn compiles_combinations_with_params_in_order() {
        assert_eq!(
            sql("not (email = 'Ann@Example.COM' or custom.tier > 2) and address.city = '北京' and vip = true"),
            (
                "(((((t.email = ?) OR (CAST(json_extract(t.custom, '$.tier') AS REAL) > ?)) IS NOT TRUE) AND \
                 (t.address_city = ?)) AND (t.vip = ?))"
                    .to_string(),
                strings(&["ann@example.com", "2", "北京", "1"])
            )
        );
    }

    #[test]
    fn equalities_of_one_field_joined_by_or_compile_as_in() {
        assert_eq!(
            sql("custom.tier = 1 or name = 'x' or custom.tier = 2 or (custom.tier = 3 or email = 'A@x.com')"),
            (
                "((CAST(json_extract(t.custom, '$.tier') AS REAL) IN (?, ?, ?)) OR (t.name = ?) OR (t.email = ?))"
                    .to_string(),
                strings(&["1", "2", "3", "x", "a@x.com"])
            )
        );
        // One equality of each field stays as written.
        assert_eq!(sql("name = 'x' or email = 'a@x.com'").0, "((t.name = ?) OR (t.email = ?))");
    }

    #[test]
    fn user_text_is_never_inlined() {
        let (text, params) = sql("name = 'x'') OR 1=1 --' or name like '%'' --'");
        assert_eq!(text, "((t.name = ?) OR (lower(t.name) LIKE lower(?) ESCAPE '\\'))");
        assert_eq!(params, strings(&["x') OR 1=1 --", "%' --"]));
    }

    #[test]
    fn compile_appends_to_what_is_there() {
        let mut text = "SELECT * FROM contacts t WHERE t.deleted IS NULL AND ".to_string();
        let mut params = vec!["earlier".to_string()];
        assert_eq!(compile(&parsed("name = 'a'"), &Contacts, &mut text, &mut params), Ok(()));
        assert_eq!(text, "SELECT * FROM contacts t WHERE t.deleted IS NULL AND (t.name = ?)");
        assert_eq!(params, strings(&["earlier", "a"]));
    }

    #[test]
    fn resolver_errors_point_at_the_field_and_leave_the_sql_untouched() {
        let mut text = "WHERE ".to_string();
        let mut params = vec!["earlier".to_string()];
        let expr = parsed("name = 'a' and  phone = '1'");
        assert_eq!(
            compile(&expr, &Contacts, &mut text, &mut params),
            Err(FilterError { position: 17, message: "contacts have no field `phone`".to_string() })
        );
        assert_eq!(text, "WHERE ");
        assert_eq!(params, strings(&["earlier"]));

        let expr = parsed("name = 'a' or score in (1, 'many')");
        let error = compile(&expr, &Contacts, &mut text, &mut params);
        assert_eq!(error, Err(FilterError { position: 15, message: "`many` is not a number".to_string() }));
        assert_eq!(
            error.map_err(|e| e.to_string()),
            Err("--where: at character 15: `many` is not a number".to_string())
        );
    }

    #[test]
    fn like_patterns_are_bound_as_typed() {
        // The resolver would lowercase an email or refuse text for a number; a pattern is neither.
        assert_eq!(sql("email like '%@ACME.com'").1, strings(&["%@ACME.com"]));
        assert_eq!(sql("score like '1%'").1, strings(&["1%"]));
    }

    #[test]
    fn empty_expression() {
        assert_eq!(error(""), (1, "the expression is empty".to_string()));
        assert_eq!(error("   "), (1, "the expression is empty".to_string()));
    }

    #[test]
    fn missing_value() {
        assert_eq!(error("name ="), (7, "expected a value after `=`, found end of expression".to_string()));
        assert_eq!(error("name = )"), (8, "expected a value after `=`, found `)`".to_string()));
        assert_eq!(
            error("name = bob@example.com"),
            (8, "expected a value after `=`, found `bob`; quote text: 'bob@example.com'".to_string())
        );
    }

    #[test]
    fn unterminated_quote() {
        assert_eq!(error("name = 'abc"), (8, "unterminated quoted text starting at character 8".to_string()));
        assert_eq!(error("name = 'O''"), (8, "unterminated quoted text starting at character 8".to_string()));
        assert_eq!(error("城市 = \"北京"), (6, "unterminated quoted text starting at character 6".to_string()));
    }

    #[test]
    fn unclosed_parenthesis() {
        assert_eq!(
            error("a=1 and (b = 2 or c = 3"),
            (24, "expected `)` to close the `(` at character 9, found end of expression".to_string())
        );
        let (position, message) = error("(a = 1 b = 2)");
        assert_eq!(position, 8);
        assert!(message.starts_with("expected `)` to close the `(` at character 1"), "{message}");
        assert!(message.ends_with("found `b`"), "{message}");
        assert_eq!(error("a = 1)"), (6, "`)` has no matching `(`".to_string()));
        assert_eq!(
            error("()"),
            (
                2,
                "expected a condition after `(`, found `)`; a condition starts with a field name, `not` or `(`"
                    .to_string()
            )
        );
    }

    #[test]
    fn unknown_operator() {
        assert_eq!(
            error("name == 'x'"),
            (6, "unknown operator `==` (did you mean `=`?); operators are = != <> < > <= >= like in is".to_string())
        );
        assert_eq!(
            error("name contains 'x'"),
            (6, "unknown operator `contains`; operators are = != <> < > <= >= like in is".to_string())
        );
        assert_eq!(
            error("name 'x'"),
            (
                6,
                "expected an operator between `name` and `'x'`; operators are = != <> < > <= >= like in is".to_string()
            )
        );
        assert_eq!(
            error("name"),
            (5, "expected an operator after `name`, found end of expression; operators are = != <> < > <= >= like in is".to_string())
        );
        assert_eq!(
            error("a = 1 && b = 2"),
            (7, "`&&` is not an operator here; join conditions with `and`".to_string())
        );
    }

    #[test]
    fn comparing_with_null() {
        assert_eq!(error("vip = null"), (5, "`= null` never matches: write `is null`".to_string()));
        assert_eq!(error("vip <> NULL"), (5, "`<> null` never matches: write `is not null`".to_string()));
        assert_eq!(error("vip > null"), (5, "`> null` never matches: use `is null` or `is not null`".to_string()));
        assert_eq!(error("vip like null"), (5, "`like null` never matches: write `is null`".to_string()));
        assert_eq!(
            error("vip not null"),
            (9, "expected `like` or `in` after `not`, found `null`; write `is not null`".to_string())
        );
        let (position, message) = error("vip in (1, null)");
        assert_eq!(position, 12);
        assert!(message.starts_with("`null` in an `in` list never matches"), "{message}");
    }

    #[test]
    fn text_after_a_complete_expression() {
        assert_eq!(
            error("name = 'a' xyz"),
            (12, "unexpected `xyz` after a complete expression; join conditions with `and` or `or`".to_string())
        );
        assert_eq!(
            error("a = 1 b = 2"),
            (7, "unexpected `b` after a complete expression; join conditions with `and` or `or`".to_string())
        );
    }

    #[test]
    fn missing_condition() {
        assert_eq!(error("a = 1 and"), (10, "expected a condition after `and`, found end of expression".to_string()));
        assert_eq!(error("not"), (4, "expected a condition after `not`, found end of expression".to_string()));
        assert_eq!(
            error("or a = 1"),
            (1, "expected a condition, found `or`; a condition starts with a field name, `not` or `(`".to_string())
        );
        assert_eq!(
            error("'x' = name"),
            (1, "expected a condition, found `'x'`; a condition starts with a field name, `not` or `(`".to_string())
        );
    }

    #[test]
    fn malformed_lists_and_patterns() {
        assert_eq!(error("a in ()"), (7, "an `in` list needs at least one value".to_string()));
        assert_eq!(error("a in (1,)"), (9, "expected a value after `,`, found `)`".to_string()));
        assert_eq!(
            error("a in (1 2)"),
            (9, "expected `,` or `)` in the `in` list opened at character 6, found `2`".to_string())
        );
        assert_eq!(
            error("a in (1"),
            (8, "expected `,` or `)` in the `in` list opened at character 6, found end of expression".to_string())
        );
        assert_eq!(
            error("a in 'x'"),
            (6, "expected `(` after `in`, found `'x'`; write a list as in ('a', 'b')".to_string())
        );
        assert_eq!(
            error("a like 5"),
            (8, "expected a quoted pattern after `like`, found `5`; quote it: '5'".to_string())
        );
        assert_eq!(error("a is 5"), (6, "expected `null` after `is`, found `5`".to_string()));
        assert_eq!(error("a is TRUE"), (6, "expected `null` after `is`, found `TRUE`; write `= true`".to_string()));
        assert_eq!(
            error("a is not false"),
            (10, "expected `null` after `is not`, found `false`; write `!= false`".to_string())
        );
    }

    #[test]
    fn malformed_words_and_numbers() {
        assert_eq!(
            error("first-name = 'x'"),
            (6, "`-` is not allowed in a field name (`first-name`); did you mean `first_name`?".to_string())
        );
        assert_eq!(
            error("created = 2024-01-05"),
            (11, "`2024-01-05` is not a number; quote it: '2024-01-05'".to_string())
        );
        assert_eq!(error("a = 1."), (5, "`1.` is not a number; quote it: '1.'".to_string()));
        assert_eq!(error("a = 12abc"), (5, "`12abc` is not a number; quote it: '12abc'".to_string()));
        assert_eq!(
            error("address..city = 'x'"),
            (1, "`address..city` is not a field name: dots separate names, as in `address.city`".to_string())
        );
        assert_eq!(error("a = @"), (5, "unexpected character `@`".to_string()));
        assert_eq!(error("a = -"), (5, "unexpected character `-`".to_string()));
        assert_eq!(
            error("a = ‘x’"),
            (5, "unexpected character `‘`: quote text with straight quotes ' or \"".to_string())
        );
    }

    #[test]
    fn the_earliest_problem_is_reported() {
        // The unterminated quote comes after the grammar error, so the grammar error wins.
        assert_eq!(error("= 'abc").0, 1);
        assert_eq!(error("a = 1 and b == 'x").0, 13);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let parens = format!("{}a = 1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(error(&parens).1.contains("nested too deeply"));
        let nots = format!("{}a = 1", "not ".repeat(10_000));
        assert!(error(&nots).1.contains("nested too deeply"));
        // A flat list of alternatives is no nesting: its tree is balanced.
        let chain = vec!["score = 1"; 10_000].join(" or ");
        assert_eq!(sql(&chain).1.len(), 10_000);
        let chain = vec!["score = 1"; 130].join(" and ");
        assert_eq!(sql(&chain).1.len(), 130);
        // Well within the limit, as a generated filter might be.
        let chain = vec!["score = 1"; 100].join(" or ");
        assert_eq!(sql(&chain).1.len(), 100);
    }

    #[test]
    fn error_display_names_the_option_and_position() {
        let error = parse("vip = null").err();
        assert_eq!(
            error.map(|e| e.to_string()),
            Some("--where: at character 5: `= null` never matches: write `is null`".to_string())
        );
    }
}
