//! `$filter`: a tokenizer and a recursive-descent parser of the expressions the Admin UI
//! builds (see the parent module), producing a typed [`Condition`].

use chrono::{DateTime, NaiveDate, Utc};

use super::{fail, field, ODataError};
use crate::identity_list::{Comparison, Condition, Field, FieldKind, Literal};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Comma,
    Text(String),
    Word(String),
}

fn tokenize(input: &str) -> Result<Vec<Token>, ODataError> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            _ if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                });
            }
            '\'' => {
                chars.next();
                tokens.push(Token::Text(quoted(&mut chars)?));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "(),'".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// The rest of a quoted string; `''` stands for one quote, as in OData.
fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, ODataError> {
    let mut text = String::new();
    loop {
        match chars.next() {
            None => return fail("There is an unterminated string literal in $filter."),
            Some('\'') if chars.peek() == Some(&'\'') => {
                chars.next();
                text.push('\'');
            }
            Some('\'') => return Ok(text),
            Some(c) => text.push(c),
        }
    }
}

pub fn parse_filter(input: &str) -> Result<Condition, ODataError> {
    let tokens = tokenize(input)?;
    let mut parser = Parser { tokens, position: 0 };
    let condition = parser.or()?;
    match parser.tokens.get(parser.position) {
        None => Ok(condition),
        Some(token) => fail(format!("Syntax error at '{}' in $filter.", describe(token))),
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Open => "(".into(),
        Token::Close => ")".into(),
        Token::Comma => ",".into(),
        Token::Text(text) => format!("'{text}'"),
        Token::Word(word) => word.clone(),
    }
}

struct Parser {
    tokens: Vec<Token>,
    position: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.position).cloned();
        self.position += 1;
        token
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.tokens.get(self.position), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn expect(&mut self, expected: &Token) -> Result<(), ODataError> {
        match self.next() {
            Some(token) if &token == expected => Ok(()),
            Some(token) => fail(format!(
                "Expected '{}' but found '{}' in $filter.",
                describe(expected),
                describe(&token)
            )),
            None => fail(format!(
                "Expected '{}' at the end of $filter.",
                describe(expected)
            )),
        }
    }

    fn or(&mut self) -> Result<Condition, ODataError> {
        let mut parts = vec![self.and()?];
        while self.peek_keyword("or") {
            self.position += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::Any(parts)
        })
    }

    fn and(&mut self) -> Result<Condition, ODataError> {
        let mut parts = vec![self.unary()?];
        while self.peek_keyword("and") {
            self.position += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::All(parts)
        })
    }

    fn unary(&mut self) -> Result<Condition, ODataError> {
        if self.peek_keyword("not") {
            self.position += 1;
            return Ok(Condition::Not(Box::new(self.unary()?)));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                self.expect(&Token::Close)?;
                Ok(inner)
            }
            Some(Token::Word(word)) if self.tokens.get(self.position) == Some(&Token::Open) => {
                self.function(&word)
            }
            Some(Token::Word(word)) => self.comparison(&word),
            Some(token) => fail(format!("Syntax error at '{}' in $filter.", describe(&token))),
            None => fail("The $filter ends where an expression was expected."),
        }
    }

    /// `contains(<text property>, '<text>')`
    fn function(&mut self, name: &str) -> Result<Condition, ODataError> {
        if !name.eq_ignore_ascii_case("contains") {
            return fail(format!(
                "The function '{name}' is not supported in $filter (only contains)."
            ));
        }
        self.expect(&Token::Open)?;
        let field = match self.next() {
            Some(Token::Word(word)) => field(&word)?,
            _ => return fail("contains() takes a property as its first argument."),
        };
        self.expect(&Token::Comma)?;
        let Some(Token::Text(text)) = self.next() else {
            return fail("contains() takes a string literal as its second argument.");
        };
        self.expect(&Token::Close)?;
        if field.kind() != FieldKind::Text {
            return fail("contains() needs a text property.");
        }
        Ok(Condition::Contains(field, text))
    }

    fn comparison(&mut self, name: &str) -> Result<Condition, ODataError> {
        let field = field(name)?;
        let op = match self.next() {
            Some(Token::Word(word)) => comparison(&word)?,
            Some(token) => {
                return fail(format!(
                    "Expected an operator but found '{}' in $filter.",
                    describe(&token)
                ))
            }
            None => return fail(format!("'{name}' is not followed by an operator in $filter.")),
        };
        let literal = match self.next() {
            Some(token @ (Token::Text(_) | Token::Word(_))) => literal(field, &token)?,
            _ => return fail(format!("'{name}' is compared with nothing in $filter.")),
        };
        if field.kind() == FieldKind::Text && !matches!(op, Comparison::Eq | Comparison::Ne) {
            return fail(format!("'{name}' is text: only eq and ne compare it."));
        }
        Ok(Condition::Compare(field, op, literal))
    }
}

fn comparison(word: &str) -> Result<Comparison, ODataError> {
    Ok(match word.to_ascii_lowercase().as_str() {
        "eq" => Comparison::Eq,
        "ne" => Comparison::Ne,
        "gt" => Comparison::Gt,
        "ge" => Comparison::Ge,
        "lt" => Comparison::Lt,
        "le" => Comparison::Le,
        _ => {
            return fail(format!(
                "'{word}' is not a supported operator (eq, ne, gt, ge, lt, le)."
            ))
        }
    })
}

/// The literal, which must suit the field: a quoted text, an integer, or a date
/// (`2024-01-01`) or date-time with offset (`2024-01-01T10:00:00Z`).
fn literal(field: Field, token: &Token) -> Result<Literal, ODataError> {
    if matches!(token, Token::Word(w) if w == "null") {
        return Ok(Literal::Null);
    }
    let parsed = match (field.kind(), token) {
        (FieldKind::Text, Token::Text(text)) => Some(Literal::Text(text.clone())),
        (FieldKind::Integer, Token::Word(word)) => word.parse().ok().map(Literal::Integer),
        (FieldKind::Date, Token::Word(word)) => date_literal(word),
        _ => None,
    };
    parsed.ok_or_else(|| {
        let expected = match field.kind() {
            FieldKind::Text => "a quoted string",
            FieldKind::Integer => "an integer",
            FieldKind::Date => "a date (yyyy-mm-dd) or a date-time with offset",
        };
        ODataError(format!(
            "'{}' cannot be compared with {}: it takes {expected}.",
            field_name(field),
            describe(token)
        ))
    })
}

fn date_literal(word: &str) -> Option<Literal> {
    if let Ok(day) = NaiveDate::parse_from_str(word, "%Y-%m-%d") {
        return Some(Literal::Day(day));
    }
    DateTime::parse_from_rfc3339(word)
        .ok()
        .map(|instant| Literal::Instant(instant.with_timezone(&Utc)))
}

fn field_name(field: Field) -> &'static str {
    match field {
        Field::Address => "address",
        Field::CreatedAt => "createdAt",
        Field::LastLoginAt => "lastLoginAt",
        Field::CreatedWithClient => "createdWithClient",
        Field::DatawalletVersion => "datawalletVersion",
        Field::IdentityVersion => "identityVersion",
        Field::NumberOfDevices => "numberOfDevices",
        Field::TierId => "tier/id",
        Field::TierName => "tier/name",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compare(field: Field, op: Comparison, literal: Literal) -> Condition {
        Condition::Compare(field, op, literal)
    }

    #[test]
    fn the_admin_uis_filter_is_understood() {
        let filter = "(contains(address, 'abc')) and ((tier/Id eq 'TIRa' or tier/Id eq 'TIRb')) and \
                      ((createdWithClient eq 'test')) and (createdAt ge 2024-01-01) and \
                      (numberOfDevices gt 1) and (datawalletVersion le 3) and (identityVersion ne 1)";
        let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        assert_eq!(
            parse_filter(filter).unwrap(),
            Condition::All(vec![
                Condition::Contains(Field::Address, "abc".into()),
                Condition::Any(vec![
                    compare(Field::TierId, Comparison::Eq, Literal::Text("TIRa".into())),
                    compare(Field::TierId, Comparison::Eq, Literal::Text("TIRb".into())),
                ]),
                compare(
                    Field::CreatedWithClient,
                    Comparison::Eq,
                    Literal::Text("test".into())
                ),
                compare(Field::CreatedAt, Comparison::Ge, Literal::Day(day)),
                compare(Field::NumberOfDevices, Comparison::Gt, Literal::Integer(1)),
                compare(Field::DatawalletVersion, Comparison::Le, Literal::Integer(3)),
                compare(Field::IdentityVersion, Comparison::Ne, Literal::Integer(1)),
            ])
        );
    }

    #[test]
    fn and_binds_tighter_than_or_and_quotes_are_doubled() {
        let parsed =
            parse_filter("address eq 'a''b' or not numberOfDevices eq 0 and lastLoginAt eq null").unwrap();
        assert_eq!(
            parsed,
            Condition::Any(vec![
                compare(Field::Address, Comparison::Eq, Literal::Text("a'b".into())),
                Condition::All(vec![
                    Condition::Not(Box::new(compare(
                        Field::NumberOfDevices,
                        Comparison::Eq,
                        Literal::Integer(0)
                    ))),
                    compare(Field::LastLoginAt, Comparison::Eq, Literal::Null),
                ]),
            ])
        );
        let instant = parse_filter("lastLoginAt lt 2024-05-01T10:00:00+02:00").unwrap();
        let expected = DateTime::parse_from_rfc3339("2024-05-01T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            instant,
            compare(Field::LastLoginAt, Comparison::Lt, Literal::Instant(expected))
        );
    }

    #[test]
    fn malformed_filters_are_refused() {
        for bad in [
            "",
            "address",
            "address eq",
            "address eq 'unterminated",
            "(address eq 'a'",
            "address eq 'a')",
            "unknown eq 1",
            "numberOfDevices eq 'one'",
            "numberOfDevices eq 1.5",
            "createdAt ge 'yesterday'",
            "address gt 'a'",
            "address like 'a'",
            "startswith(address, 'a')",
            "contains(numberOfDevices, '1')",
            "address eq 'a' and",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
