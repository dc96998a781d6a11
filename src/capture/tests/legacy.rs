use super::*;

// ---- classic pcap ----------------------------------------------------

#[test]
fn pcap_little_endian_microseconds() {
    let bytes = pcap(
        false,
        false,
        1,
        &[
            rec(1_700_000_000, 123_456, b"abc"),
            rec(1_700_000_001, 7, b""),
        ],
    );
    let total = bytes.len() as u64;
    let mut r = reader(bytes).unwrap();
    assert_eq!(r.format(), CaptureFormat::Pcap);
    let pkts = collect(&mut r).unwrap();
    assert_eq!(pkts.len(), 2);
    assert_eq!(
        pkts[0],
        Owned {
            frame: 1,
            ts_us: 1_700_000_000_123_456,
            linktype: 1,
            data: b"abc".to_vec(),
            orig_len: 3
        }
    );
    assert_eq!(pkts[1].frame, 2);
    assert_eq!(pkts[1].ts_us, 1_700_000_001_000_007);
    assert!(pkts[1].data.is_empty());
    assert_eq!(r.bytes_read(), total);
    assert!(!r.truncated());
    assert!(r.warnings().is_empty());
    assert_eq!(r.next_packet().unwrap(), None);
}

#[test]
fn pcap_big_endian_nanoseconds_and_snaplen() {
    let mut short = rec(10, 999_999_999, &[1, 2, 3, 4]);
    short.orig = 1500;
    let bytes = pcap(true, true, 101, &[short, rec(11, 1_500, &[9])]);
    let pkts = read_all(bytes).unwrap();
    assert_eq!(pkts[0].ts_us, 10_999_999);
    assert_eq!(pkts[0].linktype, 101);
    assert_eq!(pkts[0].data, vec![1, 2, 3, 4]);
    assert_eq!(pkts[0].orig_len, 1500);
    assert_eq!(pkts[1].ts_us, 11_000_001);
}

#[test]
fn pcap_little_endian_nanoseconds() {
    let pkts = read_all(pcap(false, true, 0, &[rec(2, 3_000, b"x")])).unwrap();
    assert_eq!(pkts[0].ts_us, 2_000_003);
    assert_eq!(pkts[0].linktype, 0);
}

#[test]
fn pcap_read_in_tiny_chunks_like_a_pipe() {
    let payload: Vec<u8> = (0..=255).collect();
    let recs: Vec<Rec<'_>> = (0..50).map(|i| rec(i, i, &payload[..i as usize])).collect();
    let bytes = pcap(false, false, 1, &recs);
    let expected = read_all(bytes.clone()).unwrap();
    let mut r = CaptureReader::from_reader(Box::new(Trickle {
        data: bytes,
        pos: 0,
        step: 0,
    }))
    .unwrap();
    assert_eq!(collect(&mut r).unwrap(), expected);
    assert_eq!(expected.len(), 50);
    assert!(!r.truncated());
}

#[test]
fn pcap_larger_than_initial_buffer() {
    // 40 near-maximum records (about 10 MiB) cross many buffer refills.
    let big = vec![0x5a; 250_000];
    let recs: Vec<Rec<'_>> = (0..40).map(|i| rec(i, 0, &big)).collect();
    let bytes = pcap(false, false, 1, &recs);
    let pkts = read_all(bytes).unwrap();
    assert_eq!(pkts.len(), 40);
    assert!(pkts.iter().all(|p| p.data.len() == 250_000));
    assert_eq!(pkts[39].frame, 40);
}

#[test]
fn pcap_truncated_last_record_is_a_warning() {
    let bytes = pcap(
        false,
        false,
        1,
        &[rec(1, 0, b"one"), rec(2, 0, b"two"), rec(3, 0, b"three!")],
    );
    for cut in [1, 3, 10, 17] {
        let mut r = reader(bytes[..bytes.len() - cut].to_vec()).unwrap();
        let pkts = collect(&mut r).unwrap();
        assert_eq!(pkts.len(), 2, "cut {cut}");
        assert!(r.truncated());
        assert_eq!(
            r.warnings(),
            ["capture ends in the middle of frame 3 (file truncated?)"]
        );
    }
}

#[test]
fn pcap_unsupported_link_type_is_an_error_naming_it() {
    let err = reader(pcap(false, false, 105, &[rec(1, 0, b"x")])).unwrap_err();
    assert!(matches!(
        err,
        CaptureError::UnsupportedLinkType { linktype: 105 }
    ));
    let msg = err.to_string();
    assert!(
        msg.starts_with("unsupported link type 105 (IEEE 802.11"),
        "{msg}"
    );
    assert!(msg.contains("1 Ethernet"), "{msg}");
    // FCS flags in the upper bits of the field are not part of the link type.
    let mut r = reader(pcap(false, false, 0x1000_0001, &[rec(1, 0, b"x")])).unwrap();
    assert_eq!(collect(&mut r).unwrap()[0].linktype, 1);
}

#[test]
fn pcapng_unsupported_link_type_is_a_warning_per_interface() {
    let mut bytes = shb(false);
    for _ in 0..12 {
        bytes.extend(idb(false, 147, 0, &[]));
    }
    bytes.extend(idb(false, 1, 0, &[]));
    bytes.extend(epb(false, 0, 1, b"frame", 5));
    bytes.extend(epb(false, 12, 1, b"frame", 5));
    let mut r = reader(bytes).unwrap();
    let pkts = collect(&mut r).unwrap();
    assert_eq!(
        pkts.iter().map(|p| p.linktype).collect::<Vec<_>>(),
        [147, 1]
    );
    let w = r.warnings();
    assert_eq!(w.len(), MAX_LINKTYPE_WARNINGS + 1, "{w:?}");
    assert!(
        w[0].starts_with("interface 0 has unsupported link type 147"),
        "{w:?}"
    );
    assert!(w[1].starts_with("interface 1 "), "{w:?}");
}

#[test]
fn pcapng_interface_table_is_bounded() {
    let one = idb(false, 1, 0, &[]);
    let mut bytes = shb(false);
    for _ in 0..=MAX_INTERFACES {
        bytes.extend(&one);
    }
    let mut r = reader(bytes).unwrap();
    let err = collect(&mut r).unwrap_err().to_string();
    assert!(
        err.contains("more than 65536 interface description blocks"),
        "{err}"
    );
}

#[test]
fn pcap_absurd_caplen_names_frame_and_length() {
    let mut bytes = pcap(false, false, 1, &[rec(1, 0, b"ok"), rec(2, 0, b"bad")]);
    let second = 24 + 16 + 2;
    bytes[second + 8..second + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let mut r = reader(bytes).unwrap();
    assert_eq!(r.next_packet().unwrap().unwrap().frame, 1);
    let err = r.next_packet().unwrap_err();
    let msg = err.to_string();
    assert!(matches!(
        err,
        CaptureError::CaplenTooLarge {
            frame: 2,
            caplen: 0x7fff_ffff,
            ..
        }
    ));
    assert!(
        msg.contains("frame 2") && msg.contains("2147483647"),
        "{msg}"
    );
    // The reader stays finished instead of panicking or looping.
    assert_eq!(r.next_packet().unwrap(), None);
}

#[test]
fn pcap_caplen_just_over_limit_is_rejected() {
    let data = vec![0u8; MAX_CAPLEN as usize + 1];
    let err = read_all(pcap(false, false, 1, &[rec(1, 0, &data)])).unwrap_err();
    assert!(matches!(err, CaptureError::CaplenTooLarge { frame: 1, .. }));
    let ok = vec![0u8; MAX_CAPLEN as usize];
    assert_eq!(
        read_all(pcap(false, false, 1, &[rec(1, 0, &ok)]))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn modified_pcap_format_is_read() {
    let mut v = pcap(false, false, 1, &[]);
    v[..4].copy_from_slice(&0xa1b2_cd34u32.to_le_bytes());
    v.extend(5u32.to_le_bytes());
    v.extend(6u32.to_le_bytes());
    v.extend(2u32.to_le_bytes());
    v.extend(2u32.to_le_bytes());
    v.extend([0u8; 8]);
    v.extend(b"hi");
    let pkts = read_all(v).unwrap();
    assert_eq!(pkts[0].data, b"hi");
    assert_eq!(pkts[0].ts_us, 5_000_006);
}
