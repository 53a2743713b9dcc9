//! A thin wrapper around axum's router that remembers the literal path segments it was given,
//! and collects the `OpenAPI` operations of the routes registered with [`Routes::routes`].
//!
//! Upstream (ASP.NET) matches routes case-insensitively and the official client relies on it
//! (`/Files/{id}/metadata` vs. `/Metadata`). axum matches exactly, so the binary rewrites each
//! incoming literal segment to its registered spelling before routing; see
//! [`crate::middleware::canonicalise_path`]. IDs never collide with a literal word.
//!
//! Documented routes come from one `#[utoipa::path]` annotation per handler, given to
//! [`Routes::routes`] through `utoipa_axum::routes!`: the path and methods axum routes and the
//! operation the document lists are read from the same place, so they cannot drift. See
//! [`crate::openapi`] for the pattern.

use std::collections::{BTreeSet, HashMap};

use axum::routing::MethodRouter;
use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::UtoipaMethodRouter;

#[must_use = "a route table does nothing until it is served"]
pub struct Routes<S = ()> {
    router: Router<S>,
    segments: BTreeSet<String>,
    paths: BTreeSet<String>,
    openapi: OpenApi,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Self {
            router: Router::new(),
            segments: BTreeSet::new(),
            paths: BTreeSet::new(),
            openapi: OpenApi::default(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Self::default()
    }

    /// A route that is not part of the `OpenAPI` document (the consumer API's drift test
    /// allows only the few listed there).
    pub fn route(mut self, path: &str, method_router: MethodRouter<S>) -> Self {
        self.record(path);
        self.router = self.router.route(path, method_router);
        self
    }

    /// Documented routes: what `utoipa_axum::routes!(handler, ...)` gives for handlers with
    /// `#[utoipa::path]`, all of one path. Routes them and adds their operations and schemas
    /// to the document.
    ///
    /// # Panics
    /// When the handlers of one `routes!` have different paths: `routes!` builds one method
    /// router, which would then answer every method on every path.
    pub fn routes(mut self, (schemas, paths, method_router): UtoipaMethodRouter<S>) -> Self {
        let mut keys = paths.paths.keys();
        let (Some(path), None) = (keys.next(), keys.next()) else {
            panic!(
                "one routes! per path: {:?}",
                paths.paths.keys().collect::<Vec<_>>()
            );
        };
        let path = path.clone();
        self.record(&path);
        self.router = self.router.route(&path, method_router);
        self.openapi.paths.merge(paths);
        let components = self.openapi.components.get_or_insert_with(Default::default);
        components.schemas.extend(schemas);
        self
    }

    fn record(&mut self, path: &str) {
        self.segments.extend(
            path.split('/')
                .filter(|s| !s.is_empty() && !s.starts_with('{'))
                .map(str::to_owned),
        );
        self.paths.insert(path.to_owned());
    }

    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.segments.extend(other.segments);
        self.paths.extend(other.paths);
        self.openapi.merge(other.openapi);
        self.router = self.router.merge(other.router);
        self
    }

    pub fn with_state<S2: Clone + Send + Sync + 'static>(self, state: S) -> Routes<S2> {
        Routes {
            router: self.router.with_state(state),
            segments: self.segments,
            paths: self.paths,
            openapi: self.openapi,
        }
    }

    /// Applies a change to the inner router (layers, fallbacks) keeping the recorded segments.
    pub fn map_router<S2>(self, f: impl FnOnce(Router<S>) -> Router<S2>) -> Routes<S2> {
        Routes {
            router: f(self.router),
            segments: self.segments,
            paths: self.paths,
            openapi: self.openapi,
        }
    }

    /// Every path registered, documented or not, e.g. to check that the documentation is complete.
    pub fn paths(&self) -> &BTreeSet<String> {
        &self.paths
    }

    /// The operations and schemas of the routes registered with [`Routes::routes`].
    pub fn openapi(&self) -> &OpenApi {
        &self.openapi
    }

    /// The router plus a map from lower-cased literal segment to its registered spelling.
    pub fn into_parts(self) -> (Router<S>, HashMap<String, String>) {
        let map = self
            .segments
            .into_iter()
            .map(|s| (s.to_ascii_lowercase(), s))
            .collect();
        (self.router, map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::routes;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    /// Say hello
    #[utoipa::path(get, path = "/api/v2/Greetings/{id}", responses((status = 200, body = String)))]
    async fn greet() -> &'static str {
        "hello"
    }

    #[tokio::test]
    async fn documented_routes_are_routed_recorded_and_described() {
        let table: Routes = Routes::new().routes(routes!(greet));
        assert!(table.paths().contains("/api/v2/Greetings/{id}"));
        let item = &table.openapi().paths.paths["/api/v2/Greetings/{id}"];
        let operation = item.get.as_ref().expect("the GET operation");
        assert_eq!(operation.summary.as_deref(), Some("Say hello"));
        assert!(item.post.is_none());
        let (router, segments) = table.into_parts();
        assert_eq!(segments["greetings"], "Greetings");
        let request = Request::get("/api/v2/Greetings/x").body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn merged_routes_keep_both_documents() {
        let documented: Routes = Routes::new().routes(routes!(greet));
        let plain: Routes = Routes::new().route("/health", axum::routing::get(|| async { "ok" }));
        let merged = plain.merge(documented);
        assert_eq!(merged.paths().len(), 2);
        assert_eq!(merged.openapi().paths.paths.len(), 1);
    }
}
