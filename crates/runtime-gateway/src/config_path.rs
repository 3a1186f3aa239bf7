//! The dotted key of a configuration error, shared by `config` and the sections it delegates
//! to (`govern::config`, `responses::store`).

/// `prefix.a.0.b` from a serde path (the same style the facade uses for `${ENV}` errors).
pub fn dotted_path(prefix: &str, path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = prefix.to_owned();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!(".{index}")),
            Segment::Map { key } => {
                out.push('.');
                out.push_str(key);
            }
            Segment::Enum { variant } => {
                out.push('.');
                out.push_str(variant);
            }
            Segment::Unknown => {}
        }
    }
    out
}
