use super::*;

// ---- pcapng ----------------------------------------------------------

#[test]
fn pcapng_two_interfaces_other_blocks_and_resolutions() {
    for be in [false, true] {
        let mut f = shb(be);
        f.extend(idb(be, 1, 65535, &[]));
        // interface 1: raw IP, nanoseconds, clock offset of 100 s
        f.extend(idb(
            be,
            101,
            0,
            &[(9, &[9]), (14, &u32b_8(100, be)), (2, b"eth1")],
        ));
        f.extend(block(be, 0x0000_1234, b"unknown block content"));
        f.extend(block(be, 4, &[0, 0, 0, 0])); // NRB, end of records only
        f.extend(epb(be, 0, 1_600_000_000_000_001, b"eth frame", 60));
        f.extend(block(be, 5, &[0; 12])); // ISB
        f.extend(block(be, 0x0000_0bad, &[0, 0, 0x7e, 0x2b, 1, 2])); // custom
        f.extend(block(
            be,
            0x0000_000a,
            &[0x4b, 0x53, 0x4c, 0x54, 0, 0, 0, 0],
        )); // DSB
        f.extend(epb(be, 1, 1_600_000_000_123_456_789, b"raw ip", 6));
        let total = f.len() as u64;
        let mut r = reader(f).unwrap();
        assert_eq!(r.format(), CaptureFormat::PcapNg);
        let p = collect(&mut r).unwrap();
        assert_eq!(p.len(), 2, "be={be}");
        assert_eq!(
            p[0],
            Owned {
                frame: 1,
                ts_us: 1_600_000_000_000_001,
                linktype: 1,
                data: b"eth frame".to_vec(),
                orig_len: 60
            }
        );
        assert_eq!(p[1].frame, 2);
        assert_eq!(p[1].linktype, 101);
        assert_eq!(p[1].ts_us, 1_600_000_100_123_456);
        assert_eq!(p[1].data, b"raw ip");
        assert_eq!(r.bytes_read(), total);
        assert!(r.warnings().is_empty());
        let s = r.stats();
        assert_eq!((s.frames, s.sections), (2, 1));
        assert_eq!(s.other_blocks, 2 + 5);
    }
}

fn u32b_8(v: i64, be: bool) -> [u8; 8] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

#[test]
fn pcapng_power_of_two_resolution_spb_and_obsolete_pb() {
    for be in [false, true] {
        let mut f = shb(be);
        // 2^-20 s units
        f.extend(idb(be, 113, 4, &[(9, &[0x80 | 20])]));
        f.extend(obsolete_pb(be, 0, 3 << 20 | 1 << 19, b"old"));
        f.extend(spb(be, b"simple-data", 11));
        f.extend(epb(be, 0, 5 << 20, b"e", 1));
        let p = read_all(f).unwrap();
        assert_eq!(p.len(), 3, "be={be}");
        assert_eq!(p[0].ts_us, 3_500_000);
        assert_eq!(p[0].data, b"old");
        assert_eq!(p[0].linktype, 113);
        // SPB: no clock of its own, captured length limited by snaplen 4
        assert_eq!(p[1].frame, 2);
        assert_eq!(p[1].ts_us, 3_500_000);
        assert_eq!(p[1].data, b"simp");
        assert_eq!(p[1].orig_len, 11);
        assert_eq!(p[2].ts_us, 5_000_000);
    }
}

#[test]
fn pcapng_spb_uses_original_length_to_strip_padding() {
    let mut f = shb(false);
    f.extend(idb(false, 1, 0, &[]));
    f.extend(spb(false, b"abcde", 5));
    let p = read_all(f).unwrap();
    assert_eq!(p[0].data, b"abcde");
}

#[test]
fn pcapng_sections_reset_interfaces_and_may_switch_byte_order() {
    let mut f = shb(false);
    f.extend(idb(false, 1, 0, &[]));
    f.extend(idb(false, 228, 0, &[]));
    f.extend(epb(false, 1, 1, b"a", 1));
    f.extend(shb(true));
    f.extend(idb(true, 229, 0, &[(9, &[3])]));
    f.extend(epb(true, 0, 2, b"b", 1));
    let mut ok = f.clone();
    ok.extend(block(true, 5, &[0; 12]));
    let p = read_all(ok).unwrap();
    assert_eq!(
        p.iter()
            .map(|p| (p.frame, p.linktype, p.ts_us))
            .collect::<Vec<_>>(),
        vec![(1, 228, 1), (2, 229, 2000)]
    );
    // Interface 1 existed only in the first section.
    f.extend(epb(true, 1, 3, b"c", 1));
    let mut r = reader(f).unwrap();
    assert_eq!(collect_until_err(&mut r), 2);
}

fn collect_until_err(r: &mut CaptureReader) -> usize {
    let mut n = 0;
    loop {
        match r.next_packet() {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("expected an error"),
            Err(e) => {
                let msg = e.to_string();
                assert_eq!(
                    msg,
                    "frame 3: packet refers to interface 1, but the section describes only 1 interface(s)"
                );
                return n;
            }
        }
    }
}

#[test]
fn pcapng_packet_before_any_interface() {
    let mut f = shb(false);
    f.extend(epb(false, 0, 1, b"a", 1));
    let err = read_all(f).unwrap_err();
    assert!(matches!(
        err,
        CaptureError::UnknownInterface {
            frame: 1,
            interface: 0,
            described: 0
        }
    ));
}

#[test]
fn pcapng_truncated_tail() {
    let mut f = shb(false);
    f.extend(idb(false, 1, 0, &[]));
    f.extend(epb(false, 0, 1, b"first", 5));
    f.extend(epb(false, 0, 2, b"second", 6));
    let full = f.len();
    for cut in [1, 4, 20, 40] {
        let mut r = reader(f[..full - cut].to_vec()).unwrap();
        let p = collect(&mut r).unwrap();
        assert_eq!(p.len(), 1, "cut {cut}");
        assert!(r.truncated());
        assert_eq!(
            r.warnings(),
            ["capture ends in the middle of frame 2 (file truncated?)"]
        );
    }
    // Cut inside a trailing statistics block: no frame is lost.
    let mut g = f.clone();
    g.extend(block(false, 5, &[0; 12]));
    g.truncate(g.len() - 3);
    let mut r = reader(g).unwrap();
    assert_eq!(collect(&mut r).unwrap().len(), 2);
    assert!(r.truncated());
    assert!(r.warnings()[0].contains("type 0x00000005 after frame 2"));
}

#[test]
fn pcapng_absurd_lengths() {
    let mut f = shb(false);
    f.extend(idb(false, 1, 0, &[]));
    let mut e = epb(false, 0, 1, b"x", 1);
    e[20..24].copy_from_slice(&1_000_000u32.to_le_bytes());
    let mut g = f.clone();
    g.extend(&e);
    let err = read_all(g).unwrap_err();
    assert!(
        matches!(
            err,
            CaptureError::CaplenTooLarge {
                frame: 1,
                caplen: 1_000_000,
                ..
            }
        ),
        "{err}"
    );
    // caplen larger than the block that holds it
    let mut e2 = epb(false, 0, 1, b"x", 1);
    e2[20..24].copy_from_slice(&1000u32.to_le_bytes());
    let mut g = f.clone();
    g.extend(&e2);
    let msg = read_all(g).unwrap_err().to_string();
    assert!(msg.contains("frame 1: captured length 1000"), "{msg}");
    // block length beyond the cap
    let mut g = f.clone();
    g.extend(5u32.to_le_bytes());
    g.extend(0x4000_0000u32.to_le_bytes());
    g.extend([0u8; 64]);
    assert!(matches!(
        read_all(g).unwrap_err(),
        CaptureError::BlockTooLarge { block_type: 5, .. }
    ));
    // block length not a multiple of 4
    let mut g = f;
    g.extend(5u32.to_le_bytes());
    g.extend(13u32.to_le_bytes());
    g.extend([0u8; 16]);
    assert!(matches!(
        read_all(g).unwrap_err(),
        CaptureError::Malformed { .. }
    ));
}

#[test]
fn pcapng_block_bigger_than_initial_buffer_grows_it() {
    let mut f = shb(false);
    f.extend(idb(false, 1, 0, &[]));
    f.extend(block(false, 0x0000_0bad, &vec![7u8; 3 * 1024 * 1024]));
    f.extend(epb(false, 0, 1, b"after", 5));
    let p = read_all(f).unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].data, b"after");
}

#[test]
fn small_buffer_grows_for_big_records() {
    let big = vec![0xa5u8; 100_000];
    let bytes = pcap(
        false,
        false,
        1,
        &[rec(1, 0, b"a"), rec(2, 0, &big), rec(3, 0, b"c")],
    );
    let mut r = CaptureReader::with_buffer(Box::new(Cursor::new(bytes)), 4096).unwrap();
    let p = collect(&mut r).unwrap();
    assert_eq!(p.len(), 3);
    assert_eq!(p[1].data, big);
    assert_eq!(p[2].data, b"c");
}

#[test]
fn pcapng_in_tiny_chunks() {
    let mut f = shb(true);
    f.extend(idb(true, 1, 0, &[]));
    for i in 0..30u8 {
        f.extend(epb(true, 0, u64::from(i), &vec![i; usize::from(i)], 100));
    }
    let expected = read_all(f.clone()).unwrap();
    let mut r = CaptureReader::from_reader(Box::new(Trickle {
        data: f,
        pos: 0,
        step: 3,
    }))
    .unwrap();
    assert_eq!(collect(&mut r).unwrap(), expected);
    assert_eq!(expected.len(), 30);
}

#[test]
fn timestamp_conversion_edges() {
    let iface = |tsresol, tsoffset| Interface {
        linktype: 1,
        tsresol,
        tsoffset,
        snaplen: 0,
    };
    assert_eq!(ng_ts_us(0, 1_000_000, &iface(6, 0)), 1_000_000);
    assert_eq!(ng_ts_us(0, 5, &iface(0, 0)), 5_000_000);
    assert_eq!(ng_ts_us(0, 1_500, &iface(9, 0)), 1);
    assert_eq!(ng_ts_us(0, 3, &iface(0x80, -1)), 2_000_000);
    assert_eq!(ng_ts_us(u32::MAX, u32::MAX, &iface(127, 0)), 0);
    assert_eq!(ng_ts_us(u32::MAX, u32::MAX, &iface(0xff, 0)), 0);
    // Clamped so that differences between timestamps cannot overflow.
    let max = ng_ts_us(u32::MAX, u32::MAX, &iface(0, i64::MAX));
    let min = ng_ts_us(0, 0, &iface(0, i64::MIN));
    assert_eq!((max, min), ((1 << 62) - 1, 1 - (1 << 62)));
    assert!(max.checked_sub(min).is_some());
}
