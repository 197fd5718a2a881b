"""tcpdump/packetdrill flag letters: the one parser, the inverse of flags_str."""

import pytest

from tcplab.wire.tcp import FLAGS, NONE, Flags, flags_str, parse_flags


def test_every_flag_combination_round_trips():
    for bits in range(256):
        assert parse_flags(flags_str(FLAGS[bits])) == FLAGS[bits]


def test_letters_and_the_no_flag_dash():
    assert parse_flags("S.") == Flags.SYN | Flags.ACK
    assert parse_flags("P.") == Flags.PSH | Flags.ACK
    assert parse_flags("-") == NONE
    assert parse_flags("C") == Flags.CWR  # packetdrill's spelling of CWR


@pytest.mark.parametrize("text", ["X", "S-", "SA"])
def test_unknown_letters_are_a_clear_error(text):
    with pytest.raises(ValueError, match="unknown TCP flag letter"):
        parse_flags(text)
