//! The visitor's platform, from the User-Agent, which picks the store buttons shown.

/// The platforms the onboarding page tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Android,
    Ios,
    MacOs,
    Other,
}

impl Platform {
    /// Upstream asks MyCSharp.HttpUserAgentParser, which matches case-insensitive tokens in
    /// a fixed order; these are its tokens for the three platforms that matter here. Order
    /// matters: iPhones say "like Mac OS X", Android phones say "Linux".
    pub fn from_user_agent(user_agent: &str) -> Self {
        let agent = user_agent.to_ascii_lowercase();
        let has = |token: &str| agent.contains(token);
        if has("android") {
            Self::Android
        } else if has("iphone") || has("ipad") || has("ipod") {
            Self::Ios
        } else if has("mac os") || has("macintosh") || has("os x") {
            Self::MacOs
        } else {
            Self::Other
        }
    }

    /// Android: Google Play only; iOS and macOS: the App Store only; otherwise both.
    pub fn shows_apple_store(self) -> bool {
        self != Self::Android
    }

    pub fn shows_google_store(self) -> bool {
        !matches!(self, Self::Ios | Self::MacOs)
    }
}

#[cfg(test)]
mod tests {
    use super::Platform;

    #[test]
    fn platforms_are_told_apart_by_their_tokens() {
        let cases = [
            ("Android", Platform::Android),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36",
                Platform::Android,
            ),
            ("iPhone", Platform::Ios),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
                Platform::Ios,
            ),
            ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X)", Platform::Ios),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
                Platform::MacOs,
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
                Platform::Other,
            ),
            ("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", Platform::Other),
            ("unknown", Platform::Other),
            ("", Platform::Other),
        ];
        for (agent, platform) in cases {
            assert_eq!(Platform::from_user_agent(agent), platform, "{agent}");
        }
    }

    #[test]
    fn each_platform_sees_its_store() {
        assert!(!Platform::Android.shows_apple_store() && Platform::Android.shows_google_store());
        assert!(Platform::Ios.shows_apple_store() && !Platform::Ios.shows_google_store());
        assert!(Platform::MacOs.shows_apple_store() && !Platform::MacOs.shows_google_store());
        assert!(Platform::Other.shows_apple_store() && Platform::Other.shows_google_store());
    }
}
