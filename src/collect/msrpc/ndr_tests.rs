use proptest::prelude::*;

use super::*;

const LEVEL1: [Field; 4] = [Field::Str, Field::Str, Field::Str, Field::Str];

fn s(text: &str) -> Value {
    Value::Str(Some(text.to_string()))
}

#[test]
fn known_reply_bytes_decode() {
    // Level 0, one entry "ab", hand-assembled as Samba sends it.
    let stub: Vec<u8> = [
        &0u32.to_le_bytes()[..],         // level
        &0u32.to_le_bytes(),             // tag
        &0x20000u32.to_le_bytes(),       // container ptr
        &1u32.to_le_bytes(),             // EntriesRead
        &0x20004u32.to_le_bytes(),       // Buffer ptr
        &1u32.to_le_bytes(),             // max_count
        &0x20008u32.to_le_bytes(),       // [0].name ptr
        &3u32.to_le_bytes(),             // max
        &0u32.to_le_bytes(),             // offset
        &3u32.to_le_bytes(),             // actual
        &[b'a', 0, b'b', 0, 0, 0, 0, 0], // "ab\0" + 2 bytes alignment
        &1u32.to_le_bytes(),             // TotalEntries
        &0u32.to_le_bytes(),             // ResumeHandle NULL
        &0u32.to_le_bytes(),             // status
    ]
    .concat();
    let reply = decode_enum_reply(&stub, "test", &[Field::Str]).unwrap();
    assert_eq!(reply.rows, vec![vec![s("ab")]]);
    assert_eq!(reply.total_entries, 1);
    assert_eq!(reply.resume_handle, None);
    assert_eq!(reply.status, 0);
}

#[test]
fn access_denied_reply_with_null_container() {
    let stub: Vec<u8> = [1u32, 1, 0, 0, 0, 5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let reply = decode_enum_reply(&stub, "test", &LEVEL1).unwrap();
    assert!(reply.rows.is_empty());
    assert_eq!(reply.status, 5);
}

#[test]
fn request_tail_layout() {
    let mut w = NdrWriter::new();
    w.unique_wide_string(Some("\\\\h"));
    encode_enum_tail(&mut w, 1, u32::MAX, Some(0));
    let bytes = w.into_bytes();
    // ptr, max, off, actual, "\\h\0" (6 bytes) + 2 pad, level, tag, ptr, 0, NULL, prefmax, ptr, 0
    assert_eq!(bytes.len(), 4 * 4 + 8 + 8 * 4);
    assert_eq!(&bytes[24..28], &1u32.to_le_bytes());
}

#[test]
fn lies_about_counts_are_errors_not_allocations() {
    let mut stub: Vec<u8> = [0u32, 0, 0x20000, 1, 0x20004, 0x4000_0000]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    stub.extend_from_slice(&[0; 16]);
    assert!(decode_enum_reply(&stub, "test", &[Field::Str]).is_err());
    // String claiming more characters than its max_count.
    let stub: Vec<u8> = [0u32, 0, 0x20000, 1, 0x20004, 1, 0x20008, 1, 0, 5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert!(decode_enum_reply(&stub, "test", &[Field::Str]).is_err());
    // Tag differs from level.
    let stub: Vec<u8> = [1u32, 0, 0, 0, 0, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert!(decode_enum_reply(&stub, "test", &[Field::Str]).is_err());
}

fn layout_strategy() -> impl Strategy<Value = Vec<Field>> {
    proptest::collection::vec(prop_oneof![Just(Field::Str), Just(Field::U32)], 1..9)
}

fn value_for(field: Field) -> BoxedStrategy<Value> {
    match field {
        Field::U32 => any::<u32>().prop_map(Value::U32).boxed(),
        Field::Str => proptest::option::of("[^\u{0}]{0,12}")
            .prop_map(Value::Str)
            .boxed(),
    }
}

fn reply_strategy() -> impl Strategy<Value = (Vec<Field>, EnumReply)> {
    layout_strategy().prop_flat_map(|layout| {
        let row: Vec<BoxedStrategy<Value>> = layout.iter().map(|f| value_for(*f)).collect();
        (
            Just(layout),
            proptest::collection::vec(row, 0..20),
            any::<u32>(),
            any::<u32>(),
            proptest::option::of(any::<u32>()),
            any::<u32>(),
        )
            .prop_map(
                |(layout, rows, level, total_entries, resume_handle, status)| {
                    (
                        layout,
                        EnumReply {
                            level,
                            rows,
                            total_entries,
                            resume_handle,
                            status,
                        },
                    )
                },
            )
    })
}

proptest! {
    #[test]
    fn decode_of_encode_is_identity((layout, reply) in reply_strategy()) {
        let bytes = encode_enum_reply(&reply, &layout);
        prop_assert_eq!(decode_enum_reply(&bytes, "test", &layout).unwrap(), reply);
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), layout in layout_strategy()) {
        let _ = decode_enum_reply(&bytes, "test", &layout);
    }
}
