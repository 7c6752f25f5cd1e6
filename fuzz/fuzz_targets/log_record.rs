//! The log line framer: any line decodes or is refused; a framed line
//! decodes back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = backstop_logs::record::decode(bytes);
    let line: Vec<u8> = bytes.iter().copied().filter(|b| *b != b'\n').collect();
    let mut framed = Vec::new();
    let at =
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_796_000_000_000);
    backstop_logs::record::encode(&mut framed, at, backstop_logs::Stream::Stderr, &line);
    let framed = framed.strip_suffix(b"\n").unwrap_or(&framed);
    let record = backstop_logs::record::decode(framed).expect("a framed line decodes");
    assert_eq!(record.text, &line[..], "the line comes back as written");
});
