"""Read TF2 checkpoints (tensor bundles) without TensorFlow.

A TF2 checkpoint ``<prefix>`` is two kinds of file:

* ``<prefix>.index``: an SSTable in LevelDB's table format (TensorFlow's
  ``tensorflow/core/lib/io/table*``), written uncompressed by
  ``BundleWriter`` (``options.compression = table::kNoCompression``). Its
  first entry, under the empty key, is a ``BundleHeaderProto``; every other
  entry maps a variable's key to a serialized ``BundleEntryProto`` (dtype,
  shape, shard, offset, size, masked crc32c).
* ``<prefix>.data-0000k-of-0000n``: the raw little-endian tensor bytes.

Only what checkpoints of float models need is decoded: the protobuf wire
format by hand (varints), numeric dtypes; string and variant entries (the
object graph) are listed but not read. Every block and tensor checksum is
verified. :func:`load_tf_checkpoint` takes a ``.tar.gz`` of a checkpoint
directory (as the official MoViNet checkpoints are distributed), a
directory, or a prefix.
"""
import gzip
import io
import os
import re
import struct
import tarfile
import zlib
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from ..utils.errors import CheckpointError

__all__ = ['CheckpointError', 'load_tf_checkpoint', 'read_bundle',
           'TensorEntry', 'crc32c']

_TABLE_MAGIC = 0xdb4775248b80fb57
_FOOTER_LEN = 48
_BLOCK_TRAILER_LEN = 5  # 1 byte compression type + 4 bytes masked crc32c
_COMPRESSION = {0: None, 1: 'snappy', 2: 'zlib'}

# tensorflow/core/framework/types.proto DataType -> numpy dtype
_DTYPES = {
    1: np.dtype('<f4'),   # DT_FLOAT
    2: np.dtype('<f8'),   # DT_DOUBLE
    3: np.dtype('<i4'),   # DT_INT32
    4: np.dtype('u1'),    # DT_UINT8
    5: np.dtype('<i2'),   # DT_INT16
    6: np.dtype('i1'),    # DT_INT8
    9: np.dtype('<i8'),   # DT_INT64
    10: np.dtype('?'),    # DT_BOOL
    14: 'bfloat16',       # DT_BFLOAT16: returned widened to float32
    17: np.dtype('<u2'),  # DT_UINT16
    19: np.dtype('<f2'),  # DT_HALF
    22: np.dtype('<u4'),  # DT_UINT32
    23: np.dtype('<u8'),  # DT_UINT64
}
_SKIPPED_DTYPES = {7: 'string', 20: 'resource', 21: 'variant'}


# --------------------------------------------------------------------------
# crc32c (Castagnoli), vectorised with numpy: a byte-at-a-time CRC over n
# bytes would take seconds in Python for a 70 MB checkpoint.

def _make_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0x82F63B78),
                         table >> 1).astype(np.uint32)
    return table


_CRC_TABLE = _make_table()
_CRC_TABLE_LIST = [int(v) for v in _CRC_TABLE]


def _crc_raw_py(reg: int, data: bytes) -> int:
    table = _CRC_TABLE_LIST
    for b in data:
        reg = table[(reg ^ b) & 0xFF] ^ (reg >> 8)
    return reg


def _shift_tables(length: int) -> List[List[int]]:
    """Lookup tables of the linear map reg -> CRC register after ``length``
    zero bytes (no init/final xor), one table per register byte."""
    regs = (np.uint32(1) << np.arange(32, dtype=np.uint32)).astype(np.uint32)
    for _ in range(length):
        regs = _CRC_TABLE[regs & 0xFF] ^ (regs >> 8)
    basis = [int(v) for v in regs]
    tables = []
    for byte in range(4):
        t = [0] * 256
        for v in range(1, 256):
            low = v & -v
            bit = low.bit_length() - 1
            t[v] = t[v ^ low] ^ basis[8 * byte + bit]
        tables.append(t)
    return tables


def crc32c(data: bytes) -> int:
    """The CRC-32C of ``data`` (as ``crc32c::Value`` in TensorFlow)."""
    n = len(data)
    if n < 4096:
        return _crc_raw_py(0xFFFFFFFF, data) ^ 0xFFFFFFFF
    buf = np.frombuffer(data, dtype=np.uint8).copy()
    # A reflected CRC started from ~0 equals one started from 0 over the
    # data with its first 4 bytes complemented; from 0, leading zero bytes
    # change nothing, so the data can be front-padded into equal chunks.
    buf[:4] ^= 0xFF
    chunks = max(1, int(np.sqrt(n / 8)))
    length = -(-n // chunks)
    pad = chunks * length - n
    grid = np.concatenate([np.zeros(pad, np.uint8), buf]).reshape(chunks,
                                                                   length)
    regs = np.zeros(chunks, dtype=np.uint32)
    for j in range(length):
        regs = _CRC_TABLE[(regs ^ grid[:, j]) & 0xFF] ^ (regs >> 8)
    t0, t1, t2, t3 = _shift_tables(length)
    crc = 0
    for r in regs.tolist():
        crc = (t0[crc & 0xFF] ^ t1[(crc >> 8) & 0xFF] ^ t2[(crc >> 16) & 0xFF]
               ^ t3[crc >> 24] ^ r)
    return crc ^ 0xFFFFFFFF


def _unmask(masked: int) -> int:
    rot = (masked - 0xa282ead8) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


# --------------------------------------------------------------------------
# protobuf wire format

def _varint(buf: bytes, pos: int) -> Tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise CheckpointError('truncated varint')
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise CheckpointError('malformed varint')


def _fields(buf: bytes) -> List[Tuple[int, int, object]]:
    """(field number, wire type, value) of a serialized message."""
    out, pos = [], 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise CheckpointError(f'unsupported protobuf wire type {wire}')
        if pos > len(buf):
            raise CheckpointError('truncated protobuf message')
        out.append((field, wire, value))
    return out


class TensorEntry(NamedTuple):
    """A decoded ``BundleEntryProto``."""
    dtype: int
    shape: Tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: Optional[int]  # masked, as stored
    num_slices: int


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _parse_entry(buf: bytes) -> TensorEntry:
    dtype, shape, shard, offset, size, crc, slices = 0, (), 0, 0, 0, None, 0
    for field, _, value in _fields(buf):
        if field == 1:
            dtype = value
        elif field == 2:  # TensorShapeProto: repeated Dim dim = 2
            dims = []
            for f, _, dim in _fields(value):
                if f == 2:
                    size_ = 0
                    for f2, _, v in _fields(dim):
                        if f2 == 1:
                            size_ = _signed64(v)
                    dims.append(size_)
                elif f == 3 and value:
                    raise CheckpointError('tensor of unknown rank')
            shape = tuple(dims)
        elif field == 3:
            shard = value
        elif field == 4:
            offset = value
        elif field == 5:
            size = value
        elif field == 6:
            crc = struct.unpack('<I', value)[0]
        elif field == 7:
            slices += 1
    return TensorEntry(dtype, shape, shard, offset, size, crc, slices)


# --------------------------------------------------------------------------
# SSTable (LevelDB table format)

def _block_handle(buf: bytes, pos: int) -> Tuple[int, int, int]:
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return offset, size, pos


def _read_block(data: bytes, offset: int, size: int, what: str) -> bytes:
    end = offset + size + _BLOCK_TRAILER_LEN
    if end > len(data):
        raise CheckpointError(f'{what}: block at {offset} runs past the end '
                              'of the file (truncated?)')
    block = data[offset:offset + size]
    kind = data[offset + size]
    if kind != 0:
        name = _COMPRESSION.get(kind, f'unknown type {kind}')
        raise CheckpointError(
            f'{what}: block at {offset} is {name}-compressed; TensorFlow '
            'writes checkpoint indexes uncompressed and this reader does not '
            'decompress blocks (re-save the checkpoint with TensorFlow)')
    stored = struct.unpack('<I', data[offset + size + 1:end])[0]
    if crc32c(block + b'\x00') != _unmask(stored):
        raise CheckpointError(f'{what}: checksum mismatch in the block at '
                              f'{offset} (corrupt file)')
    return block


def _block_entries(block: bytes, what: str) -> List[Tuple[bytes, bytes]]:
    if len(block) < 4:
        raise CheckpointError(f'{what}: block too short')
    num_restarts = struct.unpack('<I', block[-4:])[0]
    limit = len(block) - 4 - 4 * num_restarts
    if limit < 0:
        raise CheckpointError(f'{what}: bad restart array')
    entries, pos, key = [], 0, b''
    while pos < limit:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise CheckpointError(f'{what}: malformed block entry')
        key = key[:shared] + block[pos:pos + non_shared]
        pos += non_shared
        entries.append((key, block[pos:pos + value_len]))
        pos += value_len
    return entries


def read_table(data: bytes, what: str = 'index') -> List[Tuple[bytes, bytes]]:
    """All (key, value) pairs of an uncompressed LevelDB-format table."""
    if len(data) < _FOOTER_LEN:
        raise CheckpointError(f'{what}: {len(data)} bytes is too short for a '
                              'TF checkpoint index (truncated?)')
    footer = data[-_FOOTER_LEN:]
    if struct.unpack('<Q', footer[-8:])[0] != _TABLE_MAGIC:
        raise CheckpointError(f'{what}: not a TF checkpoint index (bad magic '
                              'number; truncated or another file format?)')
    _, _, pos = _block_handle(footer, 0)  # metaindex, unused
    index_offset, index_size, _ = _block_handle(footer, pos)
    entries = []
    for _, handle in _block_entries(
            _read_block(data, index_offset, index_size, what), what):
        offset, size, _ = _block_handle(handle, 0)
        entries += _block_entries(_read_block(data, offset, size, what), what)
    return entries


# --------------------------------------------------------------------------
# Tensor bundle

def _decode(raw: bytes, entry: TensorEntry, key: str) -> np.ndarray:
    kind = _DTYPES[entry.dtype]
    if kind == 'bfloat16':
        bits = np.frombuffer(raw, dtype='<u2').astype(np.uint32) << 16
        array = bits.view(np.float32)
    else:
        array = np.frombuffer(raw, dtype=kind)
    count = int(np.prod(entry.shape)) if entry.shape else 1
    if array.size != count:
        raise CheckpointError(f'{key}: {array.size} values stored for shape '
                              f'{entry.shape}')
    return array.reshape(entry.shape).copy()


def read_bundle(read_file: Callable[[str], bytes], prefix: str,
                keys: Optional[Callable[[str], bool]] = None,
                verify: bool = True) -> Dict[str, np.ndarray]:
    """The numeric tensors of the bundle ``prefix``.

    ``read_file(name)`` returns the bytes of ``prefix + suffix`` files;
    ``keys`` optionally selects which keys to read. String, resource and
    variant entries (the object graph) are skipped.
    """
    entries = read_table(read_file(prefix + '.index'), f'{prefix}.index')
    if not entries or entries[0][0] != b'':
        raise CheckpointError(f'{prefix}.index: no bundle header entry')
    num_shards, endianness = 1, 0
    for field, _, value in _fields(entries[0][1]):
        if field == 1:
            num_shards = value
        elif field == 2:
            endianness = value
    if endianness != 0:
        raise CheckpointError(f'{prefix}: big-endian checkpoints are not '
                              'supported')
    shards: Dict[int, bytes] = {}
    out = {}
    for raw_key, value in entries[1:]:
        key = raw_key.decode('utf-8', errors='replace')
        if keys is not None and not keys(key):
            continue
        entry = _parse_entry(value)
        if entry.dtype in _SKIPPED_DTYPES:
            continue
        if entry.dtype not in _DTYPES:
            raise CheckpointError(f'{key}: unsupported dtype enum '
                                  f'{entry.dtype}')
        if entry.num_slices:
            raise CheckpointError(f'{key}: partitioned (sliced) variables are '
                                  'not supported')
        if entry.shard_id >= num_shards:
            raise CheckpointError(f'{key}: shard {entry.shard_id} of '
                                  f'{num_shards}')
        if entry.shard_id not in shards:
            shards[entry.shard_id] = read_file(
                f'{prefix}.data-{entry.shard_id:05d}-of-{num_shards:05d}')
        shard = shards[entry.shard_id]
        if entry.offset + entry.size > len(shard):
            raise CheckpointError(
                f'{key}: bytes {entry.offset}..{entry.offset + entry.size} '
                f'lie past the end of data shard {entry.shard_id} '
                f'({len(shard)} bytes; truncated?)')
        raw = shard[entry.offset:entry.offset + entry.size]
        if verify and entry.crc32c is not None and \
                crc32c(raw) != _unmask(entry.crc32c):
            raise CheckpointError(f'{key}: checksum mismatch (corrupt data '
                                  f'shard {entry.shard_id})')
        out[key] = _decode(raw, entry, key)
    return out


# --------------------------------------------------------------------------
# Sources: .tar(.gz) archive, directory, prefix

def _prefix_from_state_file(text: str) -> Optional[str]:
    m = re.search(r'^model_checkpoint_path:\s*"([^"]+)"', text, re.M)
    return m.group(1) if m else None


def _pick_prefix(names: List[str], state_text: Optional[str],
                 where: str) -> str:
    """The checkpoint prefix among ``names`` (paths ending with .index)."""
    prefixes = sorted(n[:-len('.index')] for n in names)
    if not prefixes:
        raise CheckpointError(f'no TF checkpoint (*.index file) in {where}')
    if state_text is not None:
        wanted = _prefix_from_state_file(state_text)
        if wanted is not None:
            for p in prefixes:
                if p == wanted or os.path.basename(p) == os.path.basename(
                        wanted):
                    return p
    if len(prefixes) > 1:
        raise CheckpointError(
            f'{where} holds {len(prefixes)} checkpoints '
            f'({", ".join(prefixes)}) and no `checkpoint` file says which '
            'one to use: pass the prefix of one')
    return prefixes[0]


def _open_tar(path: str) -> tarfile.TarFile:
    with open(path, 'rb') as f:
        magic = f.read(2)
    if magic == b'\x1f\x8b':
        # Decompress it all first: gzip checks its CRC at the end only, and
        # tarfile takes a damaged header for the end of the archive.
        with gzip.open(path, 'rb') as f:
            return tarfile.open(fileobj=io.BytesIO(f.read()), mode='r:')
    return tarfile.open(path, 'r:*')


def _load_tar(path: str, **kwargs) -> Tuple[Dict[str, np.ndarray], str]:
    try:
        with _open_tar(path) as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            states = [n for n in members if os.path.basename(n) ==
                      'checkpoint']
            state_text = None
            if len(states) == 1:
                state_text = tar.extractfile(members[states[0]]).read().decode(
                    'utf-8', errors='replace')
            prefix = _pick_prefix(
                [n for n in members if n.endswith('.index')], state_text,
                f'the archive {path}')
            cache = {}

            def read_file(name: str) -> bytes:
                if name not in members:
                    raise CheckpointError(f'{name} is missing from the '
                                          f'archive {path}')
                if name not in cache:
                    cache[name] = tar.extractfile(members[name]).read()
                return cache[name]

            return read_bundle(read_file, prefix, **kwargs), f'{path}:{prefix}'
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise CheckpointError(f'cannot read the archive {path}: {e} '
                              '(corrupt or truncated download?)') from e


def _read_path(name: str) -> bytes:
    try:
        with open(name, 'rb') as f:
            return f.read()
    except FileNotFoundError:
        raise CheckpointError(f'missing checkpoint file {name}') from None


def load_tf_checkpoint(path: str, **kwargs) -> Tuple[Dict[str, np.ndarray],
                                                     str]:
    """Numeric tensors of the TF checkpoint at ``path`` and a description
    of where they came from.

    ``path`` is a ``.tar``/``.tar.gz`` archive of a checkpoint directory,
    a checkpoint directory (with a ``checkpoint`` state file or a single
    ``*.index``), a checkpoint prefix (``.../ckpt-1``) or its ``.index``
    file. Keyword arguments go to :func:`read_bundle`.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        state = os.path.join(path, 'checkpoint')
        state_text = open(state).read() if os.path.isfile(state) else None
        names = [os.path.join(path, n) for n in sorted(os.listdir(path))
                 if n.endswith('.index')]
        prefix = _pick_prefix(names, state_text, f'the directory {path}')
    elif os.path.isfile(path) and path.endswith('.index'):
        prefix = path[:-len('.index')]
    elif os.path.isfile(path + '.index'):
        prefix = path
    elif os.path.isfile(path):
        if not tarfile.is_tarfile(path):
            raise CheckpointError(
                f'{path} is neither a tar archive of a TF checkpoint nor a '
                'checkpoint .index file (corrupt or truncated download?)')
        return _load_tar(path, **kwargs)
    else:
        raise FileNotFoundError(
            f'no such checkpoint: {path} (expected a .tar.gz archive, a '
            'checkpoint directory or a checkpoint prefix such as '
            '<dir>/ckpt-1)')
    return read_bundle(lambda name: _read_path(name), prefix,
                       **kwargs), prefix
