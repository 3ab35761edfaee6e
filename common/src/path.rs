//! `DfsPath`: the only parser and validator of user paths.
//!
//! Rules (CONTRACT "Paths"): absolute, `/`-separated, UTF-8; no empty
//! component, no `.` or `..`, no NUL; at most 255 bytes a component and 4096
//! in all, and at most [`MAX_DEPTH`] components (so that no walk of the tree,
//! recursive or not, meets an unbounded depth). A single trailing `/` is tolerated (`/a/` is `/a`), since shells
//! and users type it; repeated slashes are not (they are empty components).
//! Paths are names in the namespace, never mapped onto a local disk.
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

pub const MAX_PATH_BYTES: usize = 4096;
pub const MAX_COMPONENT_BYTES: usize = 255;
/// The most components a path may have (`/a/b` has 2). 4096 bytes would
/// allow 2048 one-letter levels; real trees are far shallower (HDFS caps
/// depth at 1000), and a bound keeps recursive work on the tree small.
pub const MAX_DEPTH: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path {0:?} is not absolute (it must start with '/')")]
    NotAbsolute(String),
    #[error("path {0:?} has an empty component ('//')")]
    EmptyComponent(String),
    #[error("path {0:?} has a '.' or '..' component")]
    DotComponent(String),
    #[error("path contains a NUL byte")]
    Nul,
    #[error("path component {0:?} is longer than 255 bytes")]
    ComponentTooLong(String),
    #[error("path is longer than 4096 bytes")]
    TooLong,
    #[error("path has more than 512 components")]
    TooDeep,
    #[error("name {0:?} is not a valid file or directory name")]
    BadName(String),
}

/// A validated absolute path. Its canonical form has no trailing slash
/// (except the root, which is `/`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DfsPath(String);

impl DfsPath {
    pub fn root() -> Self {
        DfsPath("/".to_string())
    }

    pub fn parse(s: &str) -> Result<Self, PathError> {
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.contains('\0') {
            return Err(PathError::Nul);
        }
        if s.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong);
        }
        if !s.starts_with('/') {
            return Err(PathError::NotAbsolute(s.to_string()));
        }
        if s == "/" {
            return Ok(Self::root());
        }
        let trimmed = s.strip_suffix('/').unwrap_or(s);
        if trimmed.bytes().filter(|b| *b == b'/').count() > MAX_DEPTH {
            return Err(PathError::TooDeep);
        }
        for comp in trimmed[1..].split('/') {
            check_name(comp).map_err(|e| match e {
                PathError::Empty => PathError::EmptyComponent(s.to_string()),
                PathError::BadName(_) => PathError::DotComponent(s.to_string()),
                other => other,
            })?;
        }
        Ok(DfsPath(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// Components from the root down; empty for `/`.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    /// The last component; `None` for the root.
    pub fn name(&self) -> Option<&str> {
        if self.is_root() {
            None
        } else {
            self.0.rsplit('/').next()
        }
    }

    /// The parent directory; `None` for the root.
    pub fn parent(&self) -> Option<DfsPath> {
        if self.is_root() {
            return None;
        }
        match self.0.rfind('/') {
            Some(0) => Some(Self::root()),
            Some(i) => Some(DfsPath(self.0[..i].to_string())),
            None => None,
        }
    }

    /// `self/name`, validating `name` as one component.
    pub fn join(&self, name: &str) -> Result<DfsPath, PathError> {
        check_name(name)?;
        let joined = if self.is_root() {
            format!("/{name}")
        } else {
            format!("{}/{name}", self.0)
        };
        if joined.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong);
        }
        if self.components().count() >= MAX_DEPTH {
            return Err(PathError::TooDeep);
        }
        Ok(DfsPath(joined))
    }

    /// True when `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &DfsPath) -> bool {
        other.is_root()
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }
}

/// Validates one path component (a file or directory name).
pub fn check_name(name: &str) -> Result<(), PathError> {
    if name.is_empty() {
        return Err(PathError::Empty);
    }
    if name.contains('\0') {
        return Err(PathError::Nul);
    }
    if name == "." || name == ".." || name.contains('/') {
        return Err(PathError::BadName(name.to_string()));
    }
    if name.len() > MAX_COMPONENT_BYTES {
        let shown: String = name.chars().take(32).collect();
        return Err(PathError::ComponentTooLong(format!("{shown}...")));
    }
    Ok(())
}

impl Default for DfsPath {
    /// The root, `/`.
    fn default() -> Self {
        Self::root()
    }
}

impl fmt::Display for DfsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for DfsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
impl FromStr for DfsPath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, PathError> {
        DfsPath::parse(s)
    }
}
impl Serialize for DfsPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de> Deserialize<'de> for DfsPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DfsPath::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_good_paths() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/a b/ü/中文",
            "/a/",
            "/.hidden",
            "/a..b",
            "/...",
        ] {
            assert!(DfsPath::parse(p).is_ok(), "{p}");
        }
        assert_eq!(DfsPath::parse("/a/b/").unwrap().as_str(), "/a/b");
    }

    #[test]
    fn refuses_bad_paths() {
        let long_comp = format!("/{}", "x".repeat(256));
        let long_path = "/abcdefgh".repeat(600);
        for p in [
            "",
            "a",
            "a/b",
            "//",
            "/a//b",
            "/a/./b",
            "/a/../b",
            "/..",
            "/.",
            "/a\0b",
            long_comp.as_str(),
            long_path.as_str(),
            "/a//",
        ] {
            assert!(DfsPath::parse(p).is_err(), "{p:?} should be refused");
        }
        assert!(DfsPath::parse(&format!("/{}", "x".repeat(255))).is_ok());
    }

    #[test]
    fn depth_is_bounded() {
        let at_limit = "/d".repeat(MAX_DEPTH);
        let p = DfsPath::parse(&at_limit).unwrap();
        assert_eq!(p.components().count(), MAX_DEPTH);
        assert_eq!(
            DfsPath::parse(&format!("{at_limit}/d")),
            Err(PathError::TooDeep)
        );
        assert_eq!(p.join("d"), Err(PathError::TooDeep));
        assert!(p.parent().unwrap().join("e").is_ok());
        // A trailing slash is not a component.
        assert!(DfsPath::parse(&format!("{at_limit}/")).is_ok());
    }

    #[test]
    fn parent_name_join() {
        let p = DfsPath::parse("/a/b/c").unwrap();
        assert_eq!(p.name(), Some("c"));
        assert_eq!(p.parent().unwrap().as_str(), "/a/b");
        assert_eq!(
            DfsPath::parse("/a").unwrap().parent().unwrap(),
            DfsPath::root()
        );
        assert_eq!(DfsPath::root().parent(), None);
        assert_eq!(DfsPath::root().join("x").unwrap().as_str(), "/x");
        assert!(p.join("..").is_err());
        assert!(p.join("a/b").is_err());
        assert_eq!(p.components().collect::<Vec<_>>(), vec!["a", "b", "c"]);
        assert_eq!(DfsPath::root().components().count(), 0);
    }

    #[test]
    fn starts_with_is_component_wise() {
        let ab = DfsPath::parse("/a/b").unwrap();
        assert!(DfsPath::parse("/a/b/c").unwrap().starts_with(&ab));
        assert!(ab.starts_with(&ab));
        assert!(!DfsPath::parse("/a/bc").unwrap().starts_with(&ab));
        assert!(ab.starts_with(&DfsPath::root()));
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<DfsPath>("\"/ok\"").is_ok());
        assert!(serde_json::from_str::<DfsPath>("\"/bad/../x\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_is_canonical(s in ".{0,64}") {
            if let Ok(p) = DfsPath::parse(&s) {
                prop_assert_eq!(DfsPath::parse(p.as_str()).unwrap(), p.clone());
                prop_assert!(p.as_str().starts_with('/'));
                prop_assert!(!p.as_str().contains("//"));
            }
        }

        #[test]
        fn join_then_parent(names in proptest::collection::vec("[a-zA-Z0-9_ .-]{1,12}", 1..6)) {
            let mut p = DfsPath::root();
            for n in &names {
                if n == "." || n == ".." { return Ok(()); }
                let child = p.join(n).unwrap();
                prop_assert_eq!(child.parent().unwrap(), p.clone());
                prop_assert_eq!(child.name().unwrap(), n.as_str());
                prop_assert_eq!(DfsPath::parse(child.as_str()).unwrap(), child.clone());
                p = child;
            }
        }
    }
}
