//! Per-user quotas and the account archive limit: `QUOTA_BYTES_PER_USER`,
//! `QUOTA_FILES_PER_USER` (unset or 0: no quota) and `MAX_ACCOUNT_IMPORT_BYTES` (the largest
//! archive `POST /api/account/import` accepts). See `src/accounts/`.

use super::RawConfig;
use super::values::{parse_or, size_or};

/// 10 GiB: the largest account an archive is expected to carry.
const DEFAULT_MAX_IMPORT_BYTES: usize = 10 << 30;

#[derive(Debug, Clone, Copy)]
pub struct AccountsConfig {
    /// The most bytes of files one user may hold (the sum of their files' sizes).
    pub quota_bytes: Option<u64>,
    /// The most file records one user may hold.
    pub quota_files: Option<u64>,
    pub max_import_bytes: u64,
}

impl AccountsConfig {
    pub(super) fn parse(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> Self {
        let quota_bytes = match raw.quota_bytes_per_user.as_deref().map(str::trim) {
            None | Some("0") | Some("") => None,
            Some(_) => {
                Some(size_or(&raw.quota_bytes_per_user, "QUOTA_BYTES_PER_USER", 0, check) as u64)
            }
        };
        let quota_files = parse_or(
            &raw.quota_files_per_user,
            "QUOTA_FILES_PER_USER",
            0u64,
            check,
        );
        let max_import_bytes = size_or(
            &raw.max_account_import_bytes,
            "MAX_ACCOUNT_IMPORT_BYTES",
            DEFAULT_MAX_IMPORT_BYTES,
            check,
        );
        Self {
            quota_bytes,
            quota_files: (quota_files > 0).then_some(quota_files),
            max_import_bytes: max_import_bytes as u64,
        }
    }

    /// The lines `check-config` prints for these settings.
    pub(super) fn describe(&self, lines: &mut Vec<(&'static str, String)>) {
        let quota = |value: Option<u64>| value.map_or_else(|| "none".to_owned(), |v| v.to_string());
        lines.push(("QUOTA_BYTES_PER_USER", quota(self.quota_bytes)));
        lines.push(("QUOTA_FILES_PER_USER", quota(self.quota_files)));
        lines.push((
            "MAX_ACCOUNT_IMPORT_BYTES",
            self.max_import_bytes.to_string(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_are_off_by_default_and_bad_values_name_the_variable() {
        let mut problems = Vec::new();
        let mut check = |result: Result<(), String>| {
            if let Err(problem) = result {
                problems.push(problem);
            }
        };
        let parsed = AccountsConfig::parse(&RawConfig::default(), &mut check);
        assert_eq!((parsed.quota_bytes, parsed.quota_files), (None, None));
        let raw = RawConfig {
            quota_bytes_per_user: Some("2MiB".to_owned()),
            quota_files_per_user: Some("many".to_owned()),
            ..RawConfig::default()
        };
        let parsed = AccountsConfig::parse(&raw, &mut check);
        assert_eq!(parsed.quota_bytes, Some(2 << 20));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("QUOTA_FILES_PER_USER=many"));
    }
}
