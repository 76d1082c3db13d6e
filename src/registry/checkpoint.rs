//! How a checkpoint of the engine's world is encoded (see `embedded` for when one is
//! written and `sqlite` for where).
//!
//! The world in parts ([`World::in_parts`]): first the rest of the world, then
//! shares of the user records and the per-person indexes. Each part is MessagePack
//! (`rmp-serde`, structs as arrays: no field names) and is preceded by its length in 8
//! bytes, little-endian. A national fleet's world is a few hundred thousand user records;
//! as one JSON document (format 1) it took 135 MB and seconds to decode on one core.
//! MessagePack is compact and self-describing (the model's internally tagged enums need
//! that), and the parts are encoded and decoded on every core.
//!
//! Format 3 was format 2's encoding of a world whose processed versions no longer keep
//! the id of the session that wrote them (see the engine's `Version`): a format-2
//! checkpoint would restore them with it, a world the journal no longer rebuilds.
//! Format 4 writes the levels of each person's user records as externally tagged
//! values (the engine's `Levels`).
//!
//! May use the engine, rmp-serde and [`crate::parallel`].

use super::engine::{World, WorldPart};

/// The format this module writes; bump it whenever the encoding or the serialised form
/// of [`World`] changes, so that an older checkpoint is passed over (the journal
/// replayed in full and a new checkpoint written) rather than misread.
pub(crate) const FORMAT: i64 = 4;

/// Shares the user records are cut into: enough for every core to stay busy to the end.
const USER_PARTS: usize = 16;

/// Bytes of a part's length.
const LEN: usize = 8;

/// Why a world could not be encoded.
pub(crate) type EncodeError = rmp_serde::encode::Error;

enum Piece<'a> {
    Rest(&'a World),
    Part(&'a WorldPart),
}

/// The world's parts, encoded, in order: write each after its length (see
/// [`length_prefix`]). The world is whole again when this returns.
pub(crate) fn encode(world: &mut World) -> Result<Vec<Vec<u8>>, EncodeError> {
    world.in_parts(USER_PARTS, |rest, parts| {
        let pieces: Vec<Piece<'_>> = std::iter::once(Piece::Rest(rest))
            .chain(parts.iter().map(Piece::Part))
            .collect();
        crate::parallel::map_each(&pieces, |piece| match piece {
            Piece::Rest(world) => rmp_serde::to_vec(world),
            Piece::Part(part) => rmp_serde::to_vec(part),
        })
        .into_iter()
        .collect()
    })
}

/// What goes before an encoded part.
pub(crate) fn length_prefix(part: &[u8]) -> [u8; LEN] {
    (part.len() as u64).to_le_bytes()
}

/// The encoded size of these parts, prefixes included.
pub(crate) fn encoded_len(parts: &[Vec<u8>]) -> usize {
    parts.iter().map(|p| LEN + p.len()).sum()
}

/// The world a checkpoint holds; `None` for bytes that are not a checkpoint of this
/// format (cut short, corrupt, parts of different worlds).
#[cfg(test)]
pub(crate) fn decode(bytes: &[u8]) -> Option<World> {
    let read = |into: &mut [u8], at: usize| {
        into.copy_from_slice(&bytes[at..at + into.len()]);
        Ok::<(), std::convert::Infallible>(())
    };
    decode_from(bytes.len(), read).unwrap_or_else(|never| match never {})
}

/// The world the checkpoint of `len` bytes that `read` reads holds (`read(into, at)`
/// fills `into` with the bytes from `at`); `Ok(None)` when it is not a checkpoint of
/// this format (cut short, corrupt, parts of different worlds). Each part is read
/// into a buffer of its own and decoded by another thread while the next is read.
pub(crate) fn decode_from<E>(
    len: usize,
    mut read: impl FnMut(&mut [u8], usize) -> Result<(), E>,
) -> Result<Option<World>, E> {
    let (whole, decoded) = crate::parallel::map_produced(
        |hand: &mut dyn FnMut((usize, Vec<u8>))| {
            let (mut at, mut index) = (0, 0);
            while at < len {
                let mut prefix = [0; LEN];
                if len - at < LEN {
                    return Ok(false);
                }
                read(&mut prefix, at)?;
                at += LEN;
                let part_len = u64::from_le_bytes(prefix);
                let Some(part_len) = usize::try_from(part_len).ok().filter(|&n| n <= len - at)
                else {
                    return Ok(false);
                };
                // Zeroed memory of this size comes from the system already zero.
                let mut part = vec![0; part_len];
                read(&mut part, at)?;
                at += part_len;
                hand((index, part));
                index += 1;
            }
            Ok(true)
        },
        |(index, part): (usize, Vec<u8>)| {
            if index == 0 {
                rmp_serde::from_slice(&part).ok().map(Decoded::Rest)
            } else {
                rmp_serde::from_slice(&part).ok().map(Decoded::Part)
            }
        },
    );
    if !whole? {
        return Ok(None);
    }
    let mut world = None;
    let mut parts = Vec::with_capacity(decoded.len());
    for piece in decoded {
        match piece {
            Some(Decoded::Rest(w)) => world = Some(*w),
            Some(Decoded::Part(p)) => parts.push(p),
            None => return Ok(None),
        }
    }
    Ok(world.and_then(|world| world.join(parts).ok()))
}

enum Decoded {
    Rest(Box<World>),
    Part(WorldPart),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(parts: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::with_capacity(encoded_len(parts));
        for p in parts {
            out.extend_from_slice(&length_prefix(p));
            out.extend_from_slice(p);
        }
        out
    }

    #[test]
    fn cut_short_or_padded_bytes_are_no_checkpoint() {
        let mut world = World::new(Default::default());
        let parts = encode(&mut world).expect("encode");
        let bytes = framed(&parts);
        assert!(decode(&bytes).is_some());
        assert!(decode(&bytes[..bytes.len() - 1]).is_none());
        let mut padded = bytes.clone();
        padded.extend_from_slice(&[0; LEN]);
        assert!(decode(&padded).is_none(), "an empty part is not a part");
        let mut twice = parts.clone();
        twice.push(parts[1].clone());
        assert!(decode(&framed(&twice)).is_none(), "an index twice");
        assert!(decode(&framed(&parts[1..])).is_none(), "no rest");
    }
}
