//! RFC 8785 test vectors through the ledger's canonical writer, and a cross-check with an
//! independent implementation (serde_json_canonicalizer) on generated I-JSON values.
//!
//! The ledger accepts I-JSON integers only, so the RFC's floating-point vectors must be
//! refused, while every vector made of strings, literals, integers and member ordering must
//! come out byte for byte.

use domain::ledger::{PayloadError, canonical_json};
use serde_json::{Value, json};

fn ours(input: &str) -> Result<String, PayloadError> {
    canonical_json(&serde_json::from_str::<Value>(input).expect("vector input is JSON"))
}

/// RFC 8785 §3.2.2 without its numbers (which are floats): strings and literals.
#[test]
fn section_3_2_2_strings_and_literals() {
    let input = r#"{
        "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
        "literals": [null, true, false]
    }"#;
    let expected = r#"{"literals":[null,true,false],"string":"€$\u000f\nA'B\"\\\\\"/"}"#;
    assert_eq!(ours(input).unwrap(), expected);
}

/// RFC 8785 §3.2.2 in full holds floats: the ledger refuses them, naming where.
#[test]
fn section_3_2_2_numbers_are_refused() {
    let input =
        r#"{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]}"#;
    assert_eq!(
        ours(input),
        Err(PayloadError::Float {
            path: ".numbers[0]".into()
        })
    );
}

/// RFC 8785 §3.2.3: members sorted by UTF-16 code units, not by UTF-8 bytes.
#[test]
fn section_3_2_3_sorting() {
    let input = r#"{
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\ud83d\ude00": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
\"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
    assert_eq!(ours(input).unwrap(), expected);
}

/// The "weird" vector of the RFC's reference test data: control characters, `</script>`,
/// characters beyond the BMP.
#[test]
fn weird_keys_and_strings() {
    let input = r#"{
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\u000a": "Newline",
        "1": "One",
        "\u0080": "Control\u007f",
        "\ud83d\ude02": "Smiley",
        "\u00f6": "Latin Small Letter O With Diaeresis",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "</script>": "Browser Challenge"
    }"#;
    let expected = "{\"\\n\":\"Newline\",\"\\r\":\"Carriage Return\",\"1\":\"One\",\"</script>\":\"Browser Challenge\",\
\"\u{80}\":\"Control\u{7f}\",\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
\"\u{1f602}\":\"Smiley\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
    assert_eq!(ours(input).unwrap(), expected);
}

/// RFC 8785 Appendix B's integers: exact within ±(2^53−1), refused beyond.
#[test]
fn appendix_b_integers() {
    assert_eq!(
        canonical_json(&json!([0, -0, 9007199254740991_i64])).unwrap(),
        "[0,0,9007199254740991]"
    );
    assert!(canonical_json(&json!(9007199254740992_i64)).is_err());
    assert!(canonical_json(&json!(-9007199254740992_i64)).is_err());
    assert!(canonical_json(&json!(295147905179352830000_f64)).is_err());
}

/// A small deterministic generator of I-JSON values with awkward strings and keys.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn string(&mut self) -> String {
        const PIECES: [&str; 12] = [
            "a",
            "Z",
            "é",
            "\u{20ac}",
            "\u{fb33}",
            "\u{1f600}",
            "\"",
            "\\",
            "\n",
            "\u{1}",
            "\u{7f}",
            "</",
        ];
        (0..self.next() % 5)
            .map(|_| PIECES[(self.next() % 12) as usize])
            .collect()
    }

    fn value(&mut self, depth: u32) -> Value {
        match self.next() % if depth > 3 { 4 } else { 6 } {
            0 => Value::Null,
            1 => Value::Bool(self.next().is_multiple_of(2)),
            2 => json!((self.next() as i64 - (1 << 30)) * ((self.next() % 8_000_000) as i64)),
            3 => Value::String(self.string()),
            4 => Value::Array(
                (0..self.next() % 4)
                    .map(|_| self.value(depth + 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..self.next() % 5)
                    .map(|_| (self.string(), self.value(depth + 1)))
                    .collect(),
            ),
        }
    }
}

#[test]
fn agrees_with_an_independent_implementation() {
    let mut g = Gen(8785);
    for i in 0..5_000 {
        let value = g.value(0);
        assert_eq!(
            canonical_json(&value).unwrap(),
            serde_json_canonicalizer::to_string(&value).unwrap(),
            "value {i}: {value}"
        );
    }
}
