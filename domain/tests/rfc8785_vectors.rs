//! RFC 8785 test vectors, through the canonicaliser the ledger uses.
//!
//! The ledger itself refuses floating-point numbers (I-JSON integers only), but the
//! canonicaliser must still be right on every vector, so an auditor using any RFC 8785
//! implementation gets the same bytes.

use serde_json::Value;

fn jcs(input: &str) -> String {
    let value: Value = serde_json::from_str(input).expect("vector input is JSON");
    serde_json_canonicalizer::to_string(&value).expect("canonicalises")
}

/// RFC 8785 §3.2.2: the "numbers, string, literals" example.
#[test]
fn section_3_2_2_example() {
    let input = r#"{
        "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
        "literals": [null, true, false]
    }"#;
    let expected = r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#;
    assert_eq!(jcs(input), expected);
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
    let keys: Vec<String> = {
        let out = jcs(input);
        let v: serde_json::Map<String, Value> = serde_json::from_str(&out).unwrap();
        // serde_json's Map is ordered by key here, so read the order from the text instead.
        let mut positions: Vec<(usize, String)> =
            v.keys().map(|k| (out.find(&format!("\"{}\":", k.replace('\r', "\\r"))).unwrap(), k.clone())).collect();
        positions.sort();
        positions.into_iter().map(|(_, k)| k).collect()
    };
    let expected = ["\r", "1", "\u{80}", "\u{f6}", "\u{20ac}", "\u{1f600}", "\u{fb33}"];
    assert_eq!(keys, expected);
}

/// RFC 8785 Appendix B: IEEE 754 doubles and their ECMAScript serialisation.
#[test]
fn appendix_b_numbers() {
    let vectors = [
        ("0000000000000000", "0"),
        ("8000000000000000", "0"),
        ("0000000000000001", "5e-324"),
        ("8000000000000001", "-5e-324"),
        ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("ffefffffffffffff", "-1.7976931348623157e+308"),
        ("4340000000000000", "9007199254740992"),
        ("c340000000000000", "-9007199254740992"),
        ("4430000000000000", "295147905179352830000"),
        ("44b52d02c7e14af5", "9.999999999999997e+22"),
        ("44b52d02c7e14af6", "1e+23"),
        ("44b52d02c7e14af7", "1.0000000000000001e+23"),
        ("444b1ae4d6e2ef4e", "999999999999999700000"),
        ("444b1ae4d6e2ef4f", "999999999999999900000"),
        ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
        ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("41b3de4355555553", "333333333.3333332"),
        ("41b3de4355555554", "333333333.33333325"),
        ("41b3de4355555555", "333333333.3333333"),
        ("41b3de4355555556", "333333333.3333334"),
        ("41b3de4355555557", "333333333.33333343"),
        ("becbf647612f3696", "-0.0000033333333333333333"),
        ("43143ff3c1cb0959", "1424953923781206.2"),
    ];
    for (bits, expected) in vectors {
        let f = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
        assert_eq!(serde_json_canonicalizer::to_string(&f).unwrap(), expected, "{bits}");
    }
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
    assert_eq!(jcs(input), expected);
}
