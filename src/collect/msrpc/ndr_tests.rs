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

#[test]
fn a_page_larger_than_the_room_left_is_refused_before_decoding() {
    let reply = EnumReply {
        level: 1,
        rows: vec![vec![s("a"), s("b"), s("c"), s("d")]; 3],
        total_entries: 3,
        resume_handle: Some(3),
        status: 234,
    };
    let stub = encode_enum_reply(&reply, &LEVEL1);
    let mut built = 0;
    let mut out = Vec::new();
    let err = decode_enum_page(&stub, "test", &LEVEL1, 2, &mut out, |_| built += 1).unwrap_err();
    assert!(
        matches!(
            err,
            PageError::TooManyRows {
                entries: 3,
                room: 2
            }
        ),
        "{err}"
    );
    assert_eq!((built, out.len()), (0, 0));
    let mut out = Vec::new();
    let page = decode_enum_page(&stub, "test", &LEVEL1, 3, &mut out, |f| f.take_text(3)).unwrap();
    assert_eq!(out, vec![Some("d".to_string()); 3]);
    assert_eq!(
        (page.rows, page.resume_handle, page.status),
        (3, Some(3), 234)
    );
    // Twelve one-letter strings, each a smallest malloc block.
    assert_eq!(page.heap_bytes, 12 * 32);
}

#[test]
fn entries_past_entries_read_are_walked_but_not_kept() {
    let reply = EnumReply {
        level: 0,
        rows: vec![vec![s("kept")], vec![s("dropped")]],
        total_entries: 2,
        resume_handle: None,
        status: 0,
    };
    let mut stub = encode_enum_reply(&reply, &[Field::Str]);
    stub[12..16].copy_from_slice(&1u32.to_le_bytes()); // EntriesRead 1 of an array of 2
    let got = decode_enum_reply(&stub, "test", &[Field::Str]).unwrap();
    assert_eq!(got.rows, vec![vec![s("kept")]]);
    assert_eq!(got.status, 0);
}

#[test]
fn heap_footprint_follows_malloc_granules() {
    assert_eq!(heap_footprint(0), 0);
    assert_eq!(heap_footprint(1), 32);
    assert_eq!(heap_footprint(24), 32);
    assert_eq!(heap_footprint(25), 48);
    assert_eq!(heap_footprint(usize::MAX), usize::MAX);
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

    /// The row builder sees exactly what the generic decoder returns, and a
    /// page is either taken whole or (past the room) not at all.
    #[test]
    fn pages_build_the_decoded_rows_within_the_room((layout, reply) in reply_strategy(), room in 0usize..25) {
        let bytes = encode_enum_reply(&reply, &layout);
        let mut out = Vec::new();
        let result = decode_enum_page(&bytes, "test", &layout, room, &mut out, |fields| {
            (0..layout.len())
                .map(|i| match layout[i] {
                    Field::Str => Value::Str(fields.take_text(i)),
                    Field::U32 => Value::U32(fields.number(i).unwrap_or_default()),
                })
                .collect::<Vec<_>>()
        });
        if reply.rows.len() > room {
            prop_assert!(matches!(result, Err(PageError::TooManyRows { .. })), "accepted past the room");
            prop_assert!(out.is_empty());
        } else {
            let page = result.unwrap();
            prop_assert_eq!(page.rows, reply.rows.len());
            prop_assert_eq!(out, reply.rows);
        }
    }
}
