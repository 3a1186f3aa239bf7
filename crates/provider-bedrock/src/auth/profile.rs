//! The AWS shared config and credentials files (`~/.aws/config`, `~/.aws/credentials`):
//! INI sections per profile, read for static keys and the region.
//!
//! In the credentials file a section is the profile name (`[default]`, `[dev]`); in the
//! config file it is `[default]` or `[profile dev]`. The credentials file wins for keys.
//! Profiles that get credentials another way (`role_arn`, `sso_*`, `credential_process`,
//! `web_identity_token_file`) are reported as unsupported by name rather than ignored.

use std::collections::BTreeMap;

/// One profile's keys, lowercased.
pub type Section = BTreeMap<String, String>;

/// Parses an INI file into sections (comments `#`/`;`, `key = value`, continuation lines
/// of nested sections such as `s3 =` are skipped).
pub fn parse_ini(text: &str) -> BTreeMap<String, Section> {
    let mut out: BTreeMap<String, Section> = BTreeMap::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_owned();
            out.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        // An indented line continues a nested block (`s3 =\n  max_concurrent_requests = 1`).
        if raw.starts_with(' ') || raw.starts_with('\t') {
            continue;
        }
        let (Some(section), Some((k, v))) = (&current, line.split_once('=')) else {
            continue;
        };
        if let Some(s) = out.get_mut(section) {
            s.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    out
}

/// A profile's merged settings from the two files' texts.
pub fn profile(config: Option<&str>, credentials: Option<&str>, name: &str) -> Option<Section> {
    let mut merged = Section::new();
    let mut found = false;
    if let Some(text) = config {
        let sections = parse_ini(text);
        let key = if name == "default" {
            "default".to_owned()
        } else {
            format!("profile {name}")
        };
        // `[default]` may also be written `[profile default]`.
        let hit = sections.get(&key).or_else(|| {
            (name == "default")
                .then(|| sections.get("profile default"))
                .flatten()
        });
        if let Some(s) = hit {
            found = true;
            merged.extend(s.clone());
        }
    }
    if let Some(text) = credentials
        && let Some(s) = parse_ini(text).get(name)
    {
        found = true;
        merged.extend(s.clone());
    }
    found.then_some(merged)
}

/// Keys of credential sources this provider does not run, in the order reported.
pub const UNSUPPORTED_SOURCES: &[&str] = &[
    "credential_process",
    "sso_session",
    "sso_start_url",
    "role_arn",
    "web_identity_token_file",
];

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
[default]
region = us-west-2
output = json

[profile dev]
region = eu-central-1
s3 =
  max_concurrent_requests = 20
# a comment
[profile sso]
sso_session = corp
";

    const CREDENTIALS: &str = "\
[default]
aws_access_key_id = AKIDEXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY

[dev]
aws_access_key_id=AKIDDEV
aws_secret_access_key=secretdev
aws_session_token=tokendev
";

    #[test]
    fn profiles_merge_config_and_credentials() {
        let d = profile(Some(CONFIG), Some(CREDENTIALS), "default").unwrap();
        assert_eq!(d["region"], "us-west-2");
        assert_eq!(d["aws_access_key_id"], "AKIDEXAMPLE");
        let dev = profile(Some(CONFIG), Some(CREDENTIALS), "dev").unwrap();
        assert_eq!(dev["region"], "eu-central-1");
        assert_eq!(dev["aws_session_token"], "tokendev");
        assert!(!dev.contains_key("max_concurrent_requests"));
        let sso = profile(Some(CONFIG), None, "sso").unwrap();
        assert_eq!(sso["sso_session"], "corp");
        assert!(profile(Some(CONFIG), Some(CREDENTIALS), "nope").is_none());
    }
}
