//! Who is calling. `AUTH_MODE=none` makes every request the single user `local`;
//! `AUTH_MODE=jwt` checks a bearer token (HS256, RS256 or ES256) built once at startup and
//! takes the user id from `sub`, validated before use.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;

use crate::config::{AuthConfig, JwtKey};
use crate::error::ApiError;
use crate::model::UserId;

pub enum Authenticator {
    None,
    Jwt {
        key: DecodingKey,
        validation: Box<Validation>,
    },
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    /// OAuth 2 style: space-separated scope names (`scope`), or a list (`scp`).
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scp: Option<Scopes>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scopes {
    Text(String),
    List(Vec<String>),
}

/// Who is calling and what the token allows beyond the user's own documents.
pub struct Caller {
    pub user: UserId,
    /// The token's scopes; empty under `AUTH_MODE=none`.
    pub scopes: Vec<String>,
    /// False under `AUTH_MODE=none`, where no token was checked.
    pub authenticated: bool,
}

impl Authenticator {
    pub fn new(config: &AuthConfig) -> anyhow::Result<Self> {
        let (key_config, issuer, audience) = match config {
            AuthConfig::None => return Ok(Self::None),
            AuthConfig::Jwt {
                key,
                issuer,
                audience,
            } => (key, issuer, audience),
        };
        let (key, algorithms) = match key_config {
            JwtKey::Secret(secret) => (
                DecodingKey::from_secret(secret.expose().as_bytes()),
                vec![Algorithm::HS256],
            ),
            JwtKey::PublicKey { pem } => match DecodingKey::from_rsa_pem(pem.as_bytes()) {
                Ok(key) => (key, vec![Algorithm::RS256]),
                Err(_) => (
                    DecodingKey::from_ec_pem(pem.as_bytes())?,
                    vec![Algorithm::ES256],
                ),
            },
        };
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
        let mut required = vec!["exp", "sub"];
        required.extend(issuer.as_ref().map(|_| "iss"));
        required.extend(audience.as_ref().map(|_| "aud"));
        validation.set_required_spec_claims(&required);
        validation.validate_exp = true;
        validation.leeway = 30;
        match issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(Self::Jwt {
            key,
            validation: Box::new(validation),
        })
    }

    /// The user of a request, from its `Authorization` header.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<UserId, ApiError> {
        self.caller(authorization).map(|caller| caller.user)
    }

    /// The user of a request and the scopes of its token.
    pub fn caller(&self, authorization: Option<&str>) -> Result<Caller, ApiError> {
        let (key, validation) = match self {
            Self::None => {
                return Ok(Caller {
                    user: UserId::local(),
                    scopes: Vec::new(),
                    authenticated: false,
                });
            }
            Self::Jwt { key, validation } => (key, validation),
        };
        let header = authorization.ok_or_else(|| unauthorized("missing bearer token"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| unauthorized("expected `Authorization: Bearer <token>`"))?;
        let claims = decode::<Claims>(token, key, validation).map_err(|error| {
            use jsonwebtoken::errors::ErrorKind;
            let reason = match error.kind() {
                ErrorKind::ExpiredSignature => "token expired",
                ErrorKind::MissingRequiredClaim(_) => "token lacks a required claim (exp, sub)",
                ErrorKind::InvalidSignature => "bad token signature",
                ErrorKind::InvalidIssuer => "token issuer not accepted",
                ErrorKind::InvalidAudience => "token audience not accepted",
                ErrorKind::InvalidAlgorithm => "token algorithm not accepted",
                _ => "malformed token",
            };
            unauthorized(reason)
        })?;
        let claims = claims.claims;
        let user = UserId::parse(&claims.sub)
            .map_err(|_| unauthorized("token subject is not a valid user id"))?;
        let mut scopes: Vec<String> = claims
            .scope
            .iter()
            .flat_map(|text| text.split_whitespace().map(str::to_owned))
            .collect();
        match claims.scp {
            Some(Scopes::Text(text)) => {
                scopes.extend(text.split_whitespace().map(str::to_owned));
            }
            Some(Scopes::List(list)) => scopes.extend(list),
            None => {}
        }
        Ok(Caller {
            user,
            scopes,
            authenticated: true,
        })
    }
}

fn unauthorized(reason: &str) -> ApiError {
    ApiError::Unauthorized(reason.to_owned())
}
