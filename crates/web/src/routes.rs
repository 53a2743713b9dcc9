//! A thin wrapper around axum's router that remembers the literal path segments it was given.
//!
//! Upstream (ASP.NET) matches routes case-insensitively and the official client relies on it
//! (`/Files/{id}/metadata` vs. `/Metadata`). axum matches exactly, so the binary rewrites each
//! incoming literal segment to its registered spelling before routing; see
//! [`crate::middleware::canonicalise_path`]. IDs never collide with a literal word.

use std::collections::{BTreeSet, HashMap};

use axum::routing::MethodRouter;
use axum::Router;

pub struct Routes<S = ()> {
    router: Router<S>,
    segments: BTreeSet<&'static str>,
    paths: BTreeSet<&'static str>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Self {
            router: Router::new(),
            segments: BTreeSet::new(),
            paths: BTreeSet::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn route(mut self, path: &'static str, method_router: MethodRouter<S>) -> Self {
        self.segments
            .extend(path.split('/').filter(|s| !s.is_empty() && !s.starts_with('{')));
        self.paths.insert(path);
        self.router = self.router.route(path, method_router);
        self
    }

    #[must_use]
    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.segments.extend(other.segments);
        self.paths.extend(other.paths);
        self.router = self.router.merge(other.router);
        self
    }

    pub fn with_state<S2: Clone + Send + Sync + 'static>(self, state: S) -> Routes<S2> {
        Routes {
            router: self.router.with_state(state),
            segments: self.segments,
            paths: self.paths,
        }
    }

    /// Applies a change to the inner router (layers, fallbacks) keeping the recorded segments.
    pub fn map_router<S2>(self, f: impl FnOnce(Router<S>) -> Router<S2>) -> Routes<S2> {
        Routes {
            router: f(self.router),
            segments: self.segments,
            paths: self.paths,
        }
    }

    /// Every path registered, e.g. to check that the API documentation is complete.
    pub fn paths(&self) -> &BTreeSet<&'static str> {
        &self.paths
    }

    /// The router plus a map from lower-cased literal segment to its registered spelling.
    pub fn into_parts(self) -> (Router<S>, HashMap<String, &'static str>) {
        let map = self
            .segments
            .into_iter()
            .map(|s| (s.to_ascii_lowercase(), s))
            .collect();
        (self.router, map)
    }
}
