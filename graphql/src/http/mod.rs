//! The HTTP routes beside `/graphql` (API.graphql's file routes): profile photos
//! (`photos`), uploading and reading records (`records`), share links (`links`: the open
//! with a passcode, reads with its token), the transparency log (`log`),
//! and what they share (`rest`:
//! the error body, a command's error by the one mapping, the caller).

pub mod links;
pub mod log;
pub mod photos;
pub mod records;
pub mod rest;
