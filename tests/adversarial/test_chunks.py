"""The load chunks of the pre-flight audit and the function staging reads them
with (no dbt run). The oracle is Python's bytes.split(b"\\n") and hashlib."""
from __future__ import annotations

import hashlib
import random

import duckdb
import pytest

from quant_safety import manifest
from quant_safety.dbt_plugin import read_chunk, register
from quant_safety.errors import InputError


def _lines(data: bytes) -> list[bytes]:
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return parts


def _check_chunks(data: bytes, chunks, max_line: int, target: int) -> None:
    lines = _lines(data)
    position, line_no = 0, 1
    for c in chunks:
        assert c.byte_offset == position                      # contiguous, in order
        piece = data[c.byte_offset:c.byte_offset + c.byte_length]
        assert hashlib.sha256(piece).hexdigest() == c.sha256
        assert c.first_line == line_no
        piece_lines = _lines(piece)
        assert len(piece_lines) == c.line_count
        assert piece_lines == lines[line_no - 1:line_no - 1 + c.line_count]
        if c.kind == "long_line":
            assert c.line_count == 1 and c.line_bytes == len(piece_lines[0]) > max_line
        else:
            assert all(len(line) <= max_line for line in piece_lines)
            assert c.byte_length <= target + max_line + 1        # bounded whatever the file size
        position += c.byte_length
        line_no += c.line_count
    assert position == len(data) and line_no - 1 == len(lines)


@pytest.mark.parametrize("seed", range(2))
def test_chunks_cover_every_byte_and_line(tmp_path, seed):
    rng = random.Random(seed)
    path = tmp_path / "f.jsonl"
    for _ in range(20):
        max_line = rng.choice([1024, 1500, 4096])
        target = rng.choice([1, 700, 5000, 10**9])
        lines = [bytes(rng.choices(b"ab\r\x00\x01{} \t", k=rng.choice(
            [0, 1, 7, 1023, 1024, 1025, 4095, 4096, 4097, 9000]))) for _ in range(rng.randint(0, 30))]
        data = b"\n".join(lines) + (b"\n" if rng.random() < 0.5 else b"")
        path.write_bytes(data)
        sha, n_lines, size, chunks = manifest.audit_file(path, max_line_bytes=max_line, chunk_bytes=target)
        assert (sha, n_lines, size) == (hashlib.sha256(data).hexdigest(), len(_lines(data)), len(data))
        _check_chunks(data, chunks, max_line, target)


def test_not_utf8_names_the_line_and_byte_across_blocks(tmp_path):
    """The line and byte offset of the first sequence that is not UTF-8, when the file is
    read in small blocks (max_line / chunk target of a few bytes: a multi-byte character
    open at a block's end), has lines over max_line (long-line chunks) and other
    characters around. The oracle is bytes.decode's own error position."""
    rng = random.Random(7)
    path = tmp_path / "f.jsonl"
    for _ in range(400):
        data = bytearray(rng.choices(b"ab{} \n", k=rng.randint(1, 6000)))
        for _ in range(rng.randint(0, 30)):                  # valid characters of 2-4 bytes
            at = rng.randrange(len(data) + 1)
            data[at:at] = rng.choice(["é", "€", "😀"]).encode()
        at = rng.randrange(len(data) + 1)
        while at < len(data) and (data[at] & 0xC0) == 0x80:    # not inside a character
            at += 1
        data[at:at] = rng.choice([b"\xff", "€".encode()[:2] + b"a", "😀".encode()[:3] + b"\n", b"\xc0\xaf"])
        data = bytes(data)
        with pytest.raises(UnicodeDecodeError) as oracle:
            data.decode("utf-8")
        bad = oracle.value.start
        line = data[:bad].count(b"\n") + 1
        path.write_bytes(data)
        with pytest.raises(InputError, match=rf": line {line}: not UTF-8 \(.* at byte {bad}\)"):
            manifest.audit_file(path, max_line_bytes=rng.choice([64, 100, 1000]),
                                chunk_bytes=rng.choice([50, 500, 10**9]))


def test_chunk_reader_refuses_changed_bytes(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n')
    _sha, _n, _size, [chunk] = manifest.audit_file(path)
    assert read_chunk(str(path), 0, chunk.byte_length, chunk.sha256, chunk.byte_length) == path.read_bytes()
    path.write_bytes(b'{"a": 1}\n{"a": 3}\n')               # same size, other bytes: a rewrite mid-build
    with pytest.raises(ValueError, match="changed while the build ran") as info:
        read_chunk(str(path), 0, chunk.byte_length, chunk.sha256, chunk.byte_length)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    path.write_bytes(b'{"a": 1}\n')                          # truncated
    with pytest.raises(ValueError, match="no longer all there"):
        read_chunk(str(path), 0, chunk.byte_length, chunk.sha256, chunk.byte_length)


def test_chunk_reader_through_duckdb(tmp_path):
    """The registered function fails the query with the one-line message (what dbt shows)."""
    path = tmp_path / "f.jsonl"
    path.write_bytes("é".encode() * 3000 + b"\n")
    _sha, _n, _size, [chunk] = manifest.audit_file(path, max_line_bytes=1024)
    assert chunk.kind == "long_line" and chunk.line_bytes == 6000
    con = duckdb.connect()
    register(con)
    preview = con.execute("select decode(qsafety_read_chunk(?, ?, ?, ?, ?))",
                          [str(path), chunk.byte_offset, chunk.byte_length, chunk.sha256, 1001]).fetchone()[0]
    assert preview == "é" * 500                              # cut at a character boundary
    path.write_bytes("è".encode() * 3000 + b"\n")
    with pytest.raises(duckdb.Error, match="qsafety-input-error: .*changed while the build ran"):
        con.execute("select qsafety_read_chunk(?, ?, ?, ?, ?)",
                    [str(path), chunk.byte_offset, chunk.byte_length, chunk.sha256, 1001]).fetchall()


def test_chunk_reader_opens_no_fifo_and_follows_no_symlink(tmp_path):
    import os

    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="no longer a regular file"):
        read_chunk(str(fifo), 0, 10, "0" * 64, 10)
    with pytest.raises(InputError, match="not a regular file"):
        manifest.audit_file(fifo)
    (tmp_path / "real.jsonl").write_bytes(b"{}\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(tmp_path / "real.jsonl")
    with pytest.raises(ValueError, match="cannot be read"):
        read_chunk(str(link), 0, 3, hashlib.sha256(b"{}\n").hexdigest(), 3)
