//! The JSON paths that conditions use to point into a call's arguments: `$` is the
//! whole value, `.name` an object member whose name is made of `[A-Za-z0-9_-]`,
//! `['any name']` (or `["any name"]`, with `\` escaping the quote and itself) any object
//! member, and `[3]` an array element.

/// One step from a value to a part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Member(String),
    Element(usize),
}

/// A parsed JSON path: the steps from the arguments' root to the tested value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    pub segments: Vec<Segment>,
}

/// Why a path does not parse. Byte offsets count from the start of the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("must start with '$'")]
    MissingRoot,
    #[error("expected a member name after '.' at byte {at}")]
    EmptyMember { at: usize },
    #[error("unclosed bracket")]
    UnclosedBracket,
    #[error("unterminated quoted name")]
    UnterminatedQuote,
    #[error("unexpected escape {found:?} at byte {at}: only the quote and '\\' are escaped")]
    BadEscape { found: char, at: usize },
    #[error("expected an index or a quoted name at byte {at}")]
    BadBracket { at: usize },
    #[error("index at byte {at} is too large")]
    IndexTooLarge { at: usize },
    #[error("unexpected {found:?} at byte {at}")]
    Unexpected { found: char, at: usize },
}

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, PathError> {
        if !text.starts_with('$') {
            return Err(PathError::MissingRoot);
        }
        let mut parser = Parser {
            text,
            chars: text.char_indices().peekable(),
        };
        parser.chars.next();
        let mut segments = Vec::new();
        while let Some((at, c)) = parser.chars.next() {
            let segment = match c {
                '.' => parser.member(at + 1)?,
                '[' => parser.bracket(at + 1)?,
                found => return Err(PathError::Unexpected { found, at }),
            };
            segments.push(segment);
        }
        Ok(JsonPath { segments })
    }

    /// The value this path points at, or `None` if some step is missing: a member of a
    /// non-object, an element of a non-array, an absent member or an index past the end.
    pub fn lookup<'v>(&self, root: &'v serde_json::Value) -> Option<&'v serde_json::Value> {
        self.segments
            .iter()
            .try_fold(root, |value, segment| match segment {
                Segment::Member(name) => value.as_object()?.get(name),
                Segment::Element(index) => value.as_array()?.get(*index),
            })
    }
}

struct Parser<'t> {
    text: &'t str,
    /// The characters not yet parsed, with their byte offsets in `text`.
    chars: std::iter::Peekable<std::str::CharIndices<'t>>,
}

impl Parser<'_> {
    /// A `.name` segment; `start` is the byte after the dot.
    fn member(&mut self, start: usize) -> Result<Segment, PathError> {
        let mut end = start;
        while let Some(&(at, c)) = self.chars.peek() {
            if !(c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                break;
            }
            end = at + c.len_utf8();
            self.chars.next();
        }
        if end == start {
            return Err(PathError::EmptyMember { at: start });
        }
        Ok(Segment::Member(self.text[start..end].to_owned()))
    }

    /// A `[3]` or `['name']` segment; `start` is the byte after the bracket.
    fn bracket(&mut self, start: usize) -> Result<Segment, PathError> {
        let segment = match self.chars.next() {
            None => return Err(PathError::UnclosedBracket),
            Some((_, quote @ ('\'' | '"'))) => Segment::Member(self.quoted(quote)?),
            Some((_, digit)) if digit.is_ascii_digit() => {
                let mut end = start + 1;
                while let Some(&(at, c)) = self.chars.peek() {
                    if !c.is_ascii_digit() {
                        break;
                    }
                    end = at + 1;
                    self.chars.next();
                }
                let index = self.text[start..end]
                    .parse()
                    .map_err(|_| PathError::IndexTooLarge { at: start })?;
                Segment::Element(index)
            }
            Some(_) => return Err(PathError::BadBracket { at: start }),
        };
        match self.chars.next() {
            Some((_, ']')) => Ok(segment),
            Some((at, found)) => Err(PathError::Unexpected { found, at }),
            None => Err(PathError::UnclosedBracket),
        }
    }

    /// The rest of a quoted name whose opening `quote` was consumed.
    fn quoted(&mut self, quote: char) -> Result<String, PathError> {
        let mut name = String::new();
        loop {
            match self.chars.next() {
                None => return Err(PathError::UnterminatedQuote),
                Some((_, c)) if c == quote => return Ok(name),
                Some((_, '\\')) => match self.chars.next() {
                    Some((_, escaped)) if escaped == quote || escaped == '\\' => name.push(escaped),
                    Some((at, found)) => return Err(PathError::BadEscape { found, at }),
                    None => return Err(PathError::UnterminatedQuote),
                },
                Some((_, c)) => name.push(c),
            }
        }
    }
}
