//! A serde `Serializer` that feeds an unambiguous binary encoding straight into SHA-256.
//!
//! Strings are hashed in place (length prefix, then the bytes), so building a key costs
//! little more than hashing the request's text once. Every value starts with a type tag;
//! strings, bytes and names are length-prefixed; sequences, maps and structs are closed by
//! their own end tag, so two different values never produce the same byte stream.

use serde::Serialize;
use serde::ser::{self, Serializer};
use sha2::{Digest, Sha256};

/// Error while building a key (a request that serde cannot serialize to JSON); the
/// serializer's error, public as `key::KeyError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot build cache key: {}", self.0)
    }
}

impl std::error::Error for KeyError {}

impl ser::Error for KeyError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        KeyError(msg.to_string())
    }
}

/// Small writes are gathered here and hashed in one go.
const BUF: usize = 512;

/// Hashes values into a SHA-256 state. Call [`HashSer::finish`] (or use [`hash_into`]) so
/// the gathered bytes reach the state.
pub(crate) struct HashSer<'a> {
    h: &'a mut Sha256,
    buf: [u8; BUF],
    len: usize,
}

impl<'a> HashSer<'a> {
    pub(crate) fn new(h: &'a mut Sha256) -> Self {
        Self {
            h,
            buf: [0; BUF],
            len: 0,
        }
    }

    fn flush(&mut self) {
        if self.len > 0 {
            self.h.update(&self.buf[..self.len]);
            self.len = 0;
        }
    }

    fn put(&mut self, b: &[u8]) {
        if self.len + b.len() > BUF {
            self.flush();
            if b.len() > BUF / 2 {
                self.h.update(b);
                return;
            }
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    fn tag(&mut self, t: u8) {
        self.put(&[t]);
    }

    fn bytes(&mut self, tag: u8, b: &[u8]) {
        let mut head = [0u8; 9];
        head[0] = tag;
        head[1..].copy_from_slice(&(b.len() as u64).to_le_bytes());
        self.put(&head);
        self.put(b);
    }

    /// Hashes what is gathered.
    pub(crate) fn finish(mut self) {
        self.flush();
    }
}

/// Hashes `value` into `h`.
pub(crate) fn hash_into<T: Serialize + ?Sized>(h: &mut Sha256, value: &T) -> Result<(), KeyError> {
    let mut ser = HashSer::new(h);
    value.serialize(&mut ser)?;
    ser.finish();
    Ok(())
}

impl<'a, 'b> Serializer for &'a mut HashSer<'b> {
    type Ok = ();
    type Error = KeyError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Result<(), KeyError> {
        self.put(&[b'b', u8::from(v)]);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), KeyError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), KeyError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), KeyError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), KeyError> {
        // Non-negative integers hash like unsigned ones: `5i64` and `5u32` are one number.
        if let Ok(u) = u64::try_from(v) {
            return self.serialize_u64(u);
        }
        self.tag(b'i');
        self.put(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), KeyError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), KeyError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), KeyError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), KeyError> {
        self.tag(b'u');
        self.put(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), KeyError> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), KeyError> {
        self.tag(b'f');
        self.put(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), KeyError> {
        let mut buf = [0u8; 4];
        self.serialize_str(v.encode_utf8(&mut buf))
    }
    fn serialize_str(self, v: &str) -> Result<(), KeyError> {
        self.bytes(b's', v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), KeyError> {
        self.bytes(b'y', v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), KeyError> {
        self.tag(b'n');
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), KeyError> {
        self.tag(b'S');
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), KeyError> {
        self.tag(b'0');
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), KeyError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), KeyError> {
        self.bytes(b'v', variant.as_bytes());
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), KeyError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), KeyError> {
        self.bytes(b'V', variant.as_bytes());
        value.serialize(self)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self, KeyError> {
        self.tag(b'[');
        Ok(self)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self, KeyError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Self, KeyError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, KeyError> {
        self.bytes(b'V', variant.as_bytes());
        self.serialize_seq(Some(len))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self, KeyError> {
        self.tag(b'{');
        Ok(self)
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Self, KeyError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, KeyError> {
        self.bytes(b'V', variant.as_bytes());
        self.serialize_map(Some(len))
    }
}

impl ser::SerializeSeq for &mut HashSer<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.tag(b']');
        Ok(())
    }
}

impl ser::SerializeTuple for &mut HashSer<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.tag(b']');
        Ok(())
    }
}

impl ser::SerializeTupleStruct for &mut HashSer<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.tag(b']');
        Ok(())
    }
}

impl ser::SerializeTupleVariant for &mut HashSer<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.tag(b']');
        Ok(())
    }
}

impl ser::SerializeMap for &mut HashSer<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), KeyError> {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.tag(b'}');
        Ok(())
    }
}

impl ser::SerializeStruct for &mut HashSer<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), KeyError> {
        self.bytes(b's', key.as_bytes());
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.tag(b'}');
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut HashSer<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), KeyError> {
        self.bytes(b's', key.as_bytes());
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.tag(b'}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h<T: Serialize>(v: &T) -> [u8; 32] {
        let mut s = Sha256::new();
        hash_into(&mut s, v).unwrap();
        s.finalize().into()
    }

    #[test]
    fn unambiguous() {
        // Concatenations that a naive encoding would confuse.
        assert_ne!(h(&("ab", "c")), h(&("a", "bc")));
        assert_ne!(h(&vec![vec![1u8], vec![]]), h(&vec![vec![], vec![1u8]]));
        assert_ne!(h(&Some(())), h(&None::<()>));
        assert_ne!(h(&json!({"a": "b"})), h(&json!(["a", "b"])));
        assert_ne!(h(&json!("1")), h(&json!(1)));
        assert_ne!(h(&json!(null)), h(&json!("")));
        assert_eq!(h(&5i64), h(&5u32));
        assert_ne!(h(&-5i64), h(&5u32));
        assert_ne!(h(&1.5f64), h(&1u64));
    }
}
