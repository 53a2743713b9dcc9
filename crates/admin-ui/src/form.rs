//! A posted form as its name/value pairs: several of ours repeat a name (checkboxes of a
//! multi-select), which serde's flat structs cannot hold.

#[derive(Clone, Debug, Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The trimmed value of the first field called `name`; empty if there is none.
    pub fn text(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_default()
    }

    /// The trimmed value, or `None` if the field is missing or blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        Some(self.text(name)).filter(|value| !value.is_empty())
    }

    /// Every non-blank value of the fields called `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, value)| key == name && !value.trim().is_empty())
            .map(|(_, value)| value.trim().to_owned())
            .collect()
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(key, value)| (key.as_str(), value.as_str()))
    }

    pub fn is_checked(&self, name: &str) -> bool {
        self.0.iter().any(|(key, _)| key == name)
    }
}

/// A number field as JSON: a number if it is one, else the text, so that the API refuses it
/// with its own message (and a blank field is `null`).
pub fn number_or_text(value: Option<String>) -> serde_json::Value {
    match value {
        None => serde_json::Value::Null,
        Some(text) => text
            .parse::<i64>()
            .map_or(serde_json::Value::String(text), serde_json::Value::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_trimmed_and_repeated() {
        let form = FormData::parse(b"name=+Gold+&id=a&id=b&id=&max=12&flag=on");
        assert_eq!(form.text("name"), "Gold");
        assert_eq!(form.all("id"), ["a", "b"]);
        assert_eq!(form.optional("missing"), None);
        assert!(form.is_checked("flag"));
        assert_eq!(number_or_text(form.optional("max")), serde_json::json!(12));
        assert_eq!(number_or_text(Some("x".into())), serde_json::json!("x"));
    }
}
