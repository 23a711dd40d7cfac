//! Loading one YAML or JSON data file the way ansible-core's `DataLoader` does.
//!
//! A whole-file Ansible Vault (`$ANSIBLE_VAULT;...` header) is decrypted first ([`decrypt_file`]).
//! Then the text is tried as JSON (Ansible's legacy JSON decoder, which maps
//! `{"__ansible_unsafe": ...}` and `{"__ansible_vault": ...}` objects), and only if that fails
//! parsed as YAML 1.1 by [`crate::yaml`]. The result is a [`Node`] tree that remembers types, key
//! order and lines; inline vault values stay encrypted.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use crate::error::Error;
use crate::value::{Kind, Node, VaultText};
use crate::vault::{VaultSecrets, is_encrypted};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
#[cfg(test)]
use {crate::value::to_json, serde_json::Value};

/// Converts a node to a JSON value (unsafe strings and vault values kept as markers).
#[cfg(test)]
pub fn to_value(node: &Node) -> Value {
    to_json(node, true)
}

/// A loaded document plus the warnings Ansible would print while loading it.
pub struct Loaded {
    /// The top node; `None` for an empty document.
    pub node: Option<Node>,
    /// Warnings such as duplicate mapping keys.
    pub warnings: Vec<String>,
}

/// The content of a file, decrypted if it is a whole-file vault (`DataLoader._get_file_contents`).
pub fn decrypt_file<'a>(
    bytes: &'a [u8],
    path: &Path,
    secrets: &VaultSecrets,
) -> Result<Cow<'a, [u8]>, Error> {
    if !is_encrypted(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    secrets
        .decrypt(bytes)
        .map(Cow::Owned)
        .map_err(|reason| Error::Vault {
            path: path.to_path_buf(),
            line: None,
            what: "the whole file".into(),
            reason,
        })
}

/// Reads `path`, decrypts it if vaulted, and loads it as JSON or YAML.
pub fn load_file(path: &Path, secrets: &VaultSecrets) -> Result<Loaded, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    load_bytes(&decrypt_file(&bytes, path, secrets)?, path)
}

/// Loads (already decrypted) file content (see [`load_file`]); `path` names the file in
/// messages and in vault values.
pub fn load_bytes(bytes: &[u8], path: &Path) -> Result<Loaded, Error> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::parse(path, None, format!("file is not valid UTF-8: {e}")))?;
    load_str(text, path)
}

/// Loads text as JSON if it is JSON, else as YAML.
pub fn load_str(text: &str, path: &Path) -> Result<Loaded, Error> {
    if let Some(mut node) = load_json(text) {
        set_vault_path(&mut node, path);
        return Ok(Loaded {
            node: Some(node),
            warnings: Vec::new(),
        });
    }
    crate::yaml::load(text, path)
}

/// Records the file on vault values that do not know it yet.
pub fn set_vault_path(node: &mut Node, path: &Path) {
    match &mut node.kind {
        Kind::Vault(v) if v.path.is_none() => v.path = Some(path.to_path_buf()),
        Kind::Seq(items) | Kind::Set(items) => {
            items.iter_mut().for_each(|n| set_vault_path(n, path))
        }
        Kind::Map(pairs) => pairs.iter_mut().for_each(|(_, v)| set_vault_path(v, path)),
        _ => {}
    }
}

/// Parses `text` as JSON (with Ansible's marker objects), or `None` if it is not JSON.
pub fn load_json(text: &str) -> Option<Node> {
    serde_json::from_str::<JsonNode>(text).ok().map(|j| j.0)
}

/// Deserialises JSON into an ordered [`Node`] (independent of serde_json's map ordering).
struct JsonNode(Node);

impl<'de> de::Deserialize<'de> for JsonNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor).map(JsonNode)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::new(Kind::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::new(Kind::Int(v.into())))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::new(Kind::Int(v.into())))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::new(Kind::Float(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::new(Kind::Str(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::new(Kind::Str(v)))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::new(Kind::Null))
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::new(Kind::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(JsonNode(n)) = seq.next_element()? {
            items.push(n);
        }
        Ok(Node::new(Kind::Seq(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut pairs: Vec<(Node, Node)> = Vec::new();
        while let Some((k, JsonNode(v))) = map.next_entry::<String, JsonNode>()? {
            // Python's json keeps the last value for a repeated key, at the first position.
            match pairs
                .iter_mut()
                .find(|(pk, _)| pk.as_str() == Some(k.as_str()))
            {
                Some(slot) => slot.1 = v,
                None => pairs.push((Node::new(Kind::Str(k)), v)),
            }
        }
        // Ansible's legacy JSON decoder turns these marker objects into typed values.
        for (marker, unsafe_str) in [("__ansible_unsafe", true), ("__ansible_vault", false)] {
            if let Some((_, v)) = pairs.iter().find(|(k, _)| k.as_str() == Some(marker)) {
                let Kind::Str(s) = &v.kind else {
                    return Err(de::Error::custom(format!("{marker} is not a str")));
                };
                return Ok(Node::new(if unsafe_str {
                    Kind::Unsafe(s.clone())
                } else {
                    Kind::Vault(Box::new(VaultText {
                        ciphertext: s.clone(),
                        path: None,
                    }))
                }));
            }
        }
        Ok(Node::new(Kind::Map(pairs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn val(text: &str) -> Value {
        let p = Path::new("t.yml");
        to_value(&load_str(text, p).unwrap().node.unwrap())
    }

    #[test]
    fn json_first_then_yaml() {
        assert_eq!(
            val("{\"a\": 1e3, \"b\": [true, null]}"),
            json!({"a": 1000.0, "b": [true, null]})
        );
        assert_eq!(val("a: 1e3"), json!({"a": "1e3"}));
        assert_eq!(
            val("{\"u\": {\"__ansible_unsafe\": \"{{ x }}\"}}"),
            json!({"u": {"__ansible_unsafe": "{{ x }}"}})
        );
    }

    #[test]
    fn vault_values_keep_their_ciphertext() {
        assert_eq!(
            val("a: 1\nb: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3132\n"),
            json!({"a": 1, "b": {"__ansible_vault": "$ANSIBLE_VAULT;1.1;AES256\n3132\n"}})
        );
        assert_eq!(
            val("{\"s\": {\"__ansible_vault\": \"x\"}}"),
            json!({"s": {"__ansible_vault": "x"}})
        );
        let p = Path::new("v.yml");
        let e = decrypt_file(
            b"$ANSIBLE_VAULT;1.1;AES256\n6162\n",
            p,
            &VaultSecrets::new(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("v.yml: "), "{e}");
        assert!(e.to_string().contains("no vault secrets found"), "{e}");
    }
}
