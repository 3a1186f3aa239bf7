//! Server-Sent Events framing shared by the stream encoders.

use serde::Serialize;

/// Appends `event: <name>\ndata: <json>\n\n`.
///
/// Serialising the dialects' plain structs into a `Vec` cannot fail; should it ever, the frame
/// still goes out well formed, with an empty object.
pub(crate) fn write_event<T: Serialize + ?Sized>(out: &mut Vec<u8>, event: &str, data: &T) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    let at = out.len();
    if serde_json::to_writer(&mut *out, data).is_err() {
        out.truncate(at);
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_one_event() {
        let mut out = Vec::new();
        write_event(&mut out, "ping", &serde_json::json!({"type": "ping"}));
        assert_eq!(out, b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
    }
}
