//! Authentication settings: `AUTH_MODE` (none or jwt) and the JWT key, issuer and audience.
//! Serving on a non-loopback `HOST` without authentication must be asked for explicitly.

use super::values::is_loopback;
use super::{RawConfig, Secret};

#[derive(Debug, Clone)]
pub enum JwtKey {
    /// HS256 with a shared secret.
    Secret(Secret),
    /// RS256 or ES256 with a public key in PEM.
    PublicKey { pem: String },
}

#[derive(Debug, Clone)]
pub enum AuthConfig {
    None,
    Jwt {
        key: JwtKey,
        issuer: Option<String>,
        audience: Option<String>,
    },
}

impl AuthConfig {
    /// `host` is the validated `HOST`: unset `AUTH_MODE` is refused unless it is loopback.
    pub(super) fn parse(
        raw: &RawConfig,
        host: &str,
        check: &mut impl FnMut(Result<(), String>),
    ) -> Self {
        let non_empty =
            |value: &Option<String>| value.clone().filter(|text| !text.trim().is_empty());
        match raw.auth_mode.as_deref() {
            None | Some("none") => {
                if raw.auth_mode.is_none() && !is_loopback(host) {
                    check(Err(format!(
                        "HOST={host} is not a loopback address and AUTH_MODE is not set: set \
                         AUTH_MODE=jwt, or AUTH_MODE=none explicitly to serve without authentication"
                    )));
                }
                Self::None
            }
            Some("jwt") => {
                let secret = non_empty(&raw.auth_jwt_secret);
                let public_key = non_empty(&raw.auth_jwt_public_key);
                let key = match (secret, public_key) {
                    (Some(secret), None) => JwtKey::Secret(Secret::new(secret)),
                    (None, Some(key)) => match load_public_key(&key) {
                        Ok(pem) => JwtKey::PublicKey { pem },
                        Err(problem) => {
                            check(Err(format!("AUTH_JWT_PUBLIC_KEY: {problem}")));
                            JwtKey::PublicKey { pem: String::new() }
                        }
                    },
                    (Some(_), Some(_)) => {
                        check(Err(
                            "AUTH_JWT_SECRET and AUTH_JWT_PUBLIC_KEY are both set: set one"
                                .to_owned(),
                        ));
                        JwtKey::Secret(Secret::new(""))
                    }
                    (None, None) => {
                        check(Err(
                            "AUTH_MODE=jwt needs AUTH_JWT_SECRET (HS256) or AUTH_JWT_PUBLIC_KEY (RS256/ES256)".to_owned(),
                        ));
                        JwtKey::Secret(Secret::new(""))
                    }
                };
                Self::Jwt {
                    key,
                    issuer: non_empty(&raw.auth_jwt_issuer),
                    audience: non_empty(&raw.auth_jwt_audience),
                }
            }
            Some(other) => {
                check(Err(format!("AUTH_MODE={other}: expected none or jwt")));
                Self::None
            }
        }
    }

    /// The `AUTH_*` lines of `check-config`; the secret and the key are never printed.
    pub(super) fn describe(&self, lines: &mut Vec<(&'static str, String)>) {
        match self {
            Self::None => lines.push(("AUTH_MODE", "none".to_owned())),
            Self::Jwt {
                key,
                issuer,
                audience,
            } => {
                lines.push(("AUTH_MODE", "jwt".to_owned()));
                match key {
                    JwtKey::Secret(_) => {
                        lines.push(("AUTH_JWT_SECRET", "******** (HS256)".to_owned()))
                    }
                    JwtKey::PublicKey { .. } => lines.push((
                        "AUTH_JWT_PUBLIC_KEY",
                        "<PEM public key> (RS256/ES256)".to_owned(),
                    )),
                }
                lines.push((
                    "AUTH_JWT_ISSUER",
                    issuer.clone().unwrap_or_else(|| "(any)".to_owned()),
                ));
                lines.push((
                    "AUTH_JWT_AUDIENCE",
                    audience.clone().unwrap_or_else(|| "(any)".to_owned()),
                ));
            }
        }
    }
}

/// Accepts PEM text or the path of a PEM file, and checks that it is an RSA or EC public key.
fn load_public_key(value: &str) -> Result<String, String> {
    let pem = if value.trim_start().starts_with("-----BEGIN") {
        value.to_owned()
    } else {
        std::fs::read_to_string(value).map_err(|error| format!("cannot read {value}: {error}"))?
    };
    let bytes = pem.as_bytes();
    if jsonwebtoken::DecodingKey::from_rsa_pem(bytes).is_ok()
        || jsonwebtoken::DecodingKey::from_ec_pem(bytes).is_ok()
    {
        Ok(pem)
    } else {
        Err("not an RSA or EC public key in PEM format".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::super::values::parse_with_problems;
    use super::*;

    #[test]
    fn non_loopback_without_explicit_auth_is_refused() {
        let raw = RawConfig {
            host: Some("0.0.0.0".into()),
            ..RawConfig::default()
        };
        assert!(
            Config::from_raw(raw)
                .unwrap_err()
                .to_string()
                .contains("AUTH_MODE")
        );
        let explicit = RawConfig {
            host: Some("0.0.0.0".into()),
            auth_mode: Some("none".into()),
            ..RawConfig::default()
        };
        assert!(Config::from_raw(explicit).is_ok());
    }

    #[test]
    fn jwt_takes_a_secret_or_a_public_key_never_both() {
        let pem_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ec-public.pem");
        let raw = RawConfig {
            auth_mode: Some("jwt".into()),
            auth_jwt_public_key: Some(pem_path.into()),
            auth_jwt_issuer: Some("https://issuer.example.com".into()),
            ..RawConfig::default()
        };
        let (auth, problems) = parse_with_problems(|check| AuthConfig::parse(&raw, "::1", check));
        assert!(problems.is_empty(), "{problems:?}");
        let mut lines = Vec::new();
        auth.describe(&mut lines);
        assert_eq!(lines[1].0, "AUTH_JWT_PUBLIC_KEY");
        assert_eq!(lines[3], ("AUTH_JWT_AUDIENCE", "(any)".to_owned()));
        let both = RawConfig {
            auth_jwt_secret: Some("hunter2".into()),
            ..raw
        };
        let (_, problems) = parse_with_problems(|check| AuthConfig::parse(&both, "::1", check));
        assert_eq!(
            problems,
            ["AUTH_JWT_SECRET and AUTH_JWT_PUBLIC_KEY are both set: set one"]
        );
    }
}
