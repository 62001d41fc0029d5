//! Lexical normalization of `/`-separated file paths for the `path_prefix` condition:
//! `.` segments and repeated slashes are dropped and `..` removes the segment before it,
//! without looking at any filesystem. A path whose `..` climbs above its start (the root
//! for an absolute path) has no normal form.

/// A normalized path: whether it starts at `/`, and its segments, none of them empty,
/// `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NormalPath<'t> {
    pub absolute: bool,
    pub segments: Vec<&'t str>,
}

/// Why a path has no normal form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClimbsAboveRoot;

impl<'t> NormalPath<'t> {
    pub(crate) fn of(text: &'t str) -> Result<NormalPath<'t>, ClimbsAboveRoot> {
        let mut segments = Vec::new();
        for segment in text.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    segments.pop().ok_or(ClimbsAboveRoot)?;
                }
                name => segments.push(name),
            }
        }
        Ok(NormalPath {
            absolute: text.starts_with('/'),
            segments,
        })
    }

    /// Whether `self` lies at or below `prefix`: both absolute or both relative, and
    /// `prefix`'s segments begin `self`'s (whole segments: `tmp` is not a prefix of `tmpx`).
    pub(crate) fn starts_with(&self, prefix: &NormalPath<'_>) -> bool {
        self.absolute == prefix.absolute && self.segments.starts_with(&prefix.segments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(text: &str) -> Option<(bool, Vec<&str>)> {
        NormalPath::of(text)
            .ok()
            .map(|path| (path.absolute, path.segments))
    }

    #[test]
    fn dots_and_repeated_slashes_are_resolved_lexically() {
        assert_eq!(normal("tmp/a"), Some((false, vec!["tmp", "a"])));
        assert_eq!(normal("./tmp//a/"), Some((false, vec!["tmp", "a"])));
        assert_eq!(
            normal("tmp/../etc/passwd"),
            Some((false, vec!["etc", "passwd"]))
        );
        assert_eq!(normal("//data/./x/../y"), Some((true, vec!["data", "y"])));
        assert_eq!(normal(""), Some((false, vec![])));
        assert_eq!(normal("/"), Some((true, vec![])));
    }

    #[test]
    fn climbing_above_the_start_has_no_normal_form() {
        for text in [
            "..",
            "../etc",
            "tmp/../../etc",
            "/../etc/passwd",
            "a/./../..",
        ] {
            assert_eq!(normal(text), None, "{text}");
        }
    }

    #[test]
    fn prefixes_compare_whole_segments() {
        let of = |text| NormalPath::of(text).expect("normal");
        assert!(of("tmp/a").starts_with(&of("tmp/")));
        assert!(of("tmp").starts_with(&of("tmp/")));
        assert!(!of("tmpx/a").starts_with(&of("tmp")));
        assert!(!of("/tmp/a").starts_with(&of("tmp")));
        assert!(!of("tmp/a").starts_with(&of("/tmp")));
        assert!(of("/anything").starts_with(&of("/")));
    }
}
