//! Notification texts: upstream's built-in translations (en, de, it, pt; copied from the Devices
//! module's resource files), optionally overridden or extended per language by configuration,
//! and the configured text-only notifications of N4.

use std::collections::{BTreeMap, HashMap};

use crate::domain::NotificationText;

/// The language every lookup falls back to.
pub const DEFAULT_LANGUAGE: &str = "en";

/// (language, event name, title, body)
#[rustfmt::skip]
const BUILT_IN: &[(&str, &str, &str, &str)] = &[
    ("en", "ExternalEventCreated", "Updates available", "New updates are available in the app."),
    ("en", "DatawalletModificationsCreated", "Updates available", "New updates are available in the app."),
    ("en", "DeletionProcessStarted", "Deletion process started", "A Deletion Process was started for one of your identities."),
    ("en", "DeletionProcessCancelledByOwner", "A deletion process has been cancelled", "A deletion process of one of your identities has been cancelled by you."),
    ("en", "DeletionProcessCancelledBySupport", "A deletion process has been cancelled", "A deletion process of one of your identities has been cancelled by our support team."),
    ("en", "DeletionProcessGracePeriodReminder", "Your Identity will be deleted", "Your Identity will be deleted in a few days. You can still cancel up to this point."),
    ("en", "DeletionStarts", "Your identity is now deleted", "The deletion of your identity is now complete."),
    ("en", "BackupDeviceUsed", "Backup Device used", "Your backup device was used."),
    ("en", "TokenLocked", "Token locked", "Your token was locked due to too many wrong password attempts."),
    ("en", "Test", "Test", "This is a Test push notification."),

    ("de", "ExternalEventCreated", "Neuigkeiten verfügbar", "Es sind Neuigkeiten in der App verfügbar."),
    ("de", "DeletionProcessStarted", "Löschvorgang gestartet", "Ein Löschvorgang wurde für eine Ihrer Identitäten gestartet."),
    ("de", "DeletionProcessCancelledByOwner", "Löschvorgang abgebrochen", "Ein Löschvorgang einer Ihrer Identitäten wurde von Ihnen abgebrochen."),
    ("de", "DeletionProcessCancelledBySupport", "Löschvorgang abgebrochen", "Ein Löschvorgang einer Ihrer Identitäten wurde von unserem Support Team abgebrochen."),
    ("de", "DeletionProcessGracePeriodReminder", "Deine Identität wird gelöscht", "Ihre Identität wird in ein paar Tagen gelöscht. Bis dahin haben Sie die Möglichkeit, diesen Vorgang abzubrechen."),
    ("de", "DeletionStarts", "Ihre Identität ist jetzt gelöscht.", "Die Löschung Ihrer Identität ist erfolgt."),
    ("de", "BackupDeviceUsed", "Wiederherstellungsgerät benutzt", "Ihr Wiederherstellungsgerät wurde benutzt."),
    ("de", "TokenLocked", "Token gesperrt", "Ihr Token wurde aufgrund zu vieler falscher Passwortversuche gesperrt"),
    ("de", "Test", "Test", "Das ist ein Test."),

    ("it", "ExternalEventCreated", "Aggiornamenti disponibili", "Nuovi aggiornamenti sono disponibili nell'app."),
    ("it", "DatawalletModificationsCreated", "Aggiornamenti disponibili", "Nuovi aggiornamenti sono disponibili nell'app."),
    ("it", "DeletionProcessStarted", "Il processo di eliminazione è stato iniziato.", "Il processo di eliminazione è stato iniziato per una delle Sue identità."),
    ("it", "DeletionProcessCancelledByOwner", "Un processo di eliminazione è stato annullato.", "Un processo di eliminazione di una delle Sue identità è stato annullato da Lei."),
    ("it", "DeletionProcessCancelledBySupport", "Un processo di eliminazione è stato annullato.", "Un processo di eliminazione di una delle Sue identità è stato annullato dal nostro team di supporto."),
    ("it", "DeletionProcessGracePeriodReminder", "La Sua identità verrà cancellato.", "La Sua identità verrà cancellato tra pochi giorni. Nel frattempo è ancora possible di annullare il processo di eliminazione. "),
    ("it", "DeletionStarts", "La Sua identità è adesso cancellata.", "La cancellazione della Sua identità è stato adesso completata."),
    ("it", "BackupDeviceUsed", "Dispositivo di recupero usato", "Il dispositivo di backup è stato utilizzato."),
    ("it", "TokenLocked", "Token bloccato", "Il token è stato bloccato a causa di un numero eccessivo di tentativi di password errati."),
    ("it", "Test", "Test", "Questa è una notifica push di prova."),

    ("pt", "ExternalEventCreated", "Atualização recebida", "Estão disponíveis novas atualizações na aplicação."),
    ("pt", "DatawalletModificationsCreated", "Atualizações Disponíveis", "Há atualizações disponíveis na aplicação."),
    ("pt", "DeletionProcessStarted", "O processo de eliminação foi iniciado", "Um processo de eliminação foi iniciado para uma das suas identidades."),
    ("pt", "DeletionProcessCancelledByOwner", "Um processo de eliminação foi cancelado", "Um dos processos de eliminação de uma das suas identidades foi cancelado por si."),
    ("pt", "DeletionProcessCancelledBySupport", "Um processo de eliminação foi cancelado", "Um dos processos de eliminação de uma das suas identidades foi cancelado pela equipa de suporte."),
    ("pt", "DeletionProcessGracePeriodReminder", "A sua identidade será excluída", "A sua identidade será excluída dentro de alguns dias. O cancelamento ainda é possível."),
    ("pt", "DeletionStarts", "A sua identidade foi eliminada", "A eliminação da sua identidade foi concluída."),
    ("pt", "BackupDeviceUsed", "Dispositivo de recuperação utilizado", "O seu dispositivo de cópia de segurança foi utilizado."),
    ("pt", "TokenLocked", "Token bloqueado", "O seu token foi bloqueado devido a demasiadas tentativas erradas de introdução de palavra-passe."),
    ("pt", "Test", "Teste", "Isto é uma notificação de teste."),
];

/// Whether built-in texts exist for this event name (configured texts must name one).
pub fn is_known_event(event_name: &str) -> bool {
    BUILT_IN.iter().any(|(_, event, ..)| *event == event_name) || event_name == "NewAnnouncement"
}

/// Texts per language for one notification; always has [`DEFAULT_LANGUAGE`] when non-empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Translations(BTreeMap<String, NotificationText>);

impl Translations {
    pub fn new(texts: BTreeMap<String, NotificationText>) -> Self {
        Self(texts)
    }

    /// The text in `language`, else in English, else empty (the push then shows no text).
    pub fn for_language(&self, language: &str) -> NotificationText {
        self.0
            .get(language)
            .or_else(|| self.0.get(DEFAULT_LANGUAGE))
            .cloned()
            .unwrap_or(NotificationText {
                title: String::new(),
                body: String::new(),
            })
    }
}

/// All texts the service needs: built-in per event name (with configured overrides) and the
/// configured text-only notifications by code.
#[derive(Debug, Clone, Default)]
pub struct TextCatalog {
    by_event: HashMap<String, Translations>,
    codes: BTreeMap<String, Translations>,
}

impl TextCatalog {
    /// The built-in texts, then `overrides` (language → event name → text) on top, plus the
    /// text-only notifications (code → language → text).
    pub fn new(
        overrides: &BTreeMap<String, BTreeMap<String, NotificationText>>,
        codes: BTreeMap<String, BTreeMap<String, NotificationText>>,
    ) -> Self {
        let mut by_event: HashMap<String, BTreeMap<String, NotificationText>> = HashMap::new();
        for (language, event, title, body) in BUILT_IN {
            by_event.entry((*event).to_owned()).or_default().insert(
                (*language).to_owned(),
                NotificationText {
                    title: (*title).to_owned(),
                    body: (*body).to_owned(),
                },
            );
        }
        for (language, events) in overrides {
            for (event, text) in events {
                by_event
                    .entry(event.clone())
                    .or_default()
                    .insert(language.clone(), text.clone());
            }
        }
        Self {
            by_event: by_event
                .into_iter()
                .map(|(event, texts)| (event, Translations(texts)))
                .collect(),
            codes: codes
                .into_iter()
                .map(|(code, texts)| (code, Translations(texts)))
                .collect(),
        }
    }

    /// The texts of a notification type (empty if none are known, e.g. announcements).
    pub fn for_event(&self, event_name: &str) -> Translations {
        self.by_event.get(event_name).cloned().unwrap_or_default()
    }

    /// The texts of a configured text-only notification.
    pub fn for_code(&self, code: &str) -> Option<&Translations> {
        self.codes.get(code)
    }

    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.codes.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(title: &str, body: &str) -> NotificationText {
        NotificationText {
            title: title.into(),
            body: body.into(),
        }
    }

    #[test]
    fn every_sent_type_has_an_english_text() {
        let catalog = TextCatalog::new(&BTreeMap::new(), BTreeMap::new());
        for event in [
            "ExternalEventCreated",
            "DatawalletModificationsCreated",
            "DeletionProcessStarted",
            "DeletionProcessCancelledByOwner",
            "DeletionProcessGracePeriodReminder",
            "DeletionStarts",
            "BackupDeviceUsed",
            "TokenLocked",
            "Test",
        ] {
            let english = catalog.for_event(event).for_language("en");
            assert!(!english.title.is_empty() && !english.body.is_empty(), "{event}");
        }
        assert_eq!(
            catalog.for_event("TokenLocked").for_language("en"),
            text(
                "Token locked",
                "Your token was locked due to too many wrong password attempts."
            )
        );
    }

    #[test]
    fn languages_fall_back_to_english_per_text() {
        let catalog = TextCatalog::new(&BTreeMap::new(), BTreeMap::new());
        assert_eq!(
            catalog.for_event("Test").for_language("de").body,
            "Das ist ein Test."
        );
        assert_eq!(catalog.for_event("Test").for_language("pt").title, "Teste");
        assert_eq!(
            catalog.for_event("Test").for_language("fr").body,
            "This is a Test push notification."
        );
        // German has no datawallet text upstream.
        assert_eq!(
            catalog
                .for_event("DatawalletModificationsCreated")
                .for_language("de")
                .title,
            "Updates available"
        );
        assert_eq!(
            catalog.for_event("NewAnnouncement").for_language("en"),
            text("", "")
        );
    }

    #[test]
    fn configuration_overrides_and_adds_languages() {
        let overrides = BTreeMap::from([
            (
                "en".to_owned(),
                BTreeMap::from([("Test".to_owned(), text("Hi", "Configured"))]),
            ),
            (
                "fr".to_owned(),
                BTreeMap::from([("TokenLocked".to_owned(), text("Jeton verrouillé", "…"))]),
            ),
        ]);
        let codes = BTreeMap::from([(
            "Hello".to_owned(),
            BTreeMap::from([("en".to_owned(), text("Hello", "World"))]),
        )]);
        let catalog = TextCatalog::new(&overrides, codes);
        assert_eq!(catalog.for_event("Test").for_language("en").title, "Hi");
        assert_eq!(catalog.for_event("Test").for_language("de").title, "Test");
        assert_eq!(
            catalog.for_event("TokenLocked").for_language("fr").title,
            "Jeton verrouillé"
        );
        assert_eq!(
            catalog.for_code("Hello").unwrap().for_language("it").body,
            "World"
        );
        assert!(catalog.for_code("hello").is_none());
        assert_eq!(catalog.codes().collect::<Vec<_>>(), ["Hello"]);
    }
}
