//! Who a request is from: the one reading of the `Authorization` header, for every API that
//! takes a token (the native API, Patchwork's, the testers'). Browsers sign in with a session
//! cookie instead (`accounts.rs`).

use axum::http::{HeaderMap, StatusCode, header};
use quire_store::{Token, User};

use crate::AppState;
use crate::error::WebError;

/// The secret of `Authorization: Bearer <token>` (or Patchwork's `Token <token>`; the scheme's
/// case does not matter), if the request carries one.
pub fn token_secret(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, secret) = value.split_once(char::is_whitespace)?;
    let secret = secret.trim();
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    (known && !secret.is_empty()).then_some(secret)
}

/// The caller of a request that may carry a token.
pub enum Caller {
    /// No token.
    Anonymous,
    /// A token that belongs to a user (`quire token create NAME --user USER`).
    User(Token, User),
    /// A token of no user: a tester's or an admin's.
    Service(Token),
}

/// How to get a token, said when one is missing.
pub const TOKEN_NEEDED: &str =
    "a token is needed: `Authorization: Bearer <token>` (quire token create NAME --user USER)";

impl Caller {
    /// Who sent the request: anonymous without a token, 401 for a token that is unknown or
    /// revoked (a wrong token is never taken for no token).
    pub async fn of(state: &AppState, headers: &HeaderMap) -> Result<Caller, WebError> {
        let Some(secret) = token_secret(headers) else { return Ok(Caller::Anonymous) };
        match state
            .store
            .token_user(secret)
            .await
            .map_err(|e| WebError::store("checking a token", e))?
        {
            Some((token, Some(user))) => Ok(Caller::User(token, user)),
            Some((token, None)) => Ok(Caller::Service(token)),
            None => Err(WebError::refused(
                StatusCode::UNAUTHORIZED,
                "unknown or revoked token (quire token create NAME --user USER)",
            )),
        }
    }

    /// The token, if there is one.
    pub fn token(&self) -> Option<&Token> {
        match self {
            Caller::Anonymous => None,
            Caller::User(t, _) | Caller::Service(t) => Some(t),
        }
    }

    /// The user, or 401/403 saying how to get a user's token.
    pub fn user(self) -> Result<User, WebError> {
        match self {
            Caller::User(_, user) => Ok(user),
            Caller::Anonymous => Err(WebError::refused(StatusCode::UNAUTHORIZED, TOKEN_NEEDED)),
            Caller::Service(t) => Err(WebError::refused(
                StatusCode::FORBIDDEN,
                format!("token {:?} belongs to no user: create one with --user", t.name),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn secret(value: &str) -> Option<String> {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        token_secret(&h).map(str::to_string)
    }

    #[test]
    fn bearer_and_token_schemes() {
        assert_eq!(secret("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(secret("Token  abc ").as_deref(), Some("abc"));
        assert_eq!(secret("bearer abc").as_deref(), Some("abc"));
        assert_eq!(secret("Basic YWRtaW46eA=="), None);
        assert_eq!(secret("Bearer"), None);
        assert_eq!(secret("Bearer   "), None);
        assert_eq!(secret("Tokenabc"), None);
        assert_eq!(token_secret(&HeaderMap::new()), None);
    }
}
