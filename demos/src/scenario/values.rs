//! Value checks that run while a scenario is parsed (serde's `deserialize_with`), so a
//! bad value is reported at its line and column, under the name of its field.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Unexpected, Visitor};
use serde::Deserialize;

use super::quote::quoted;
use super::ShipClass;

/// Longest fleet or class name, in characters: names go into every ship's tasklet name,
/// the progress lines and the GIF's legend.
pub const MAX_NAME: usize = 64;
/// Longest scenario name, in characters.
pub const MAX_TITLE: usize = 200;

/// A number: an integer or a float, never a string or a structure. Reading it through
/// `deserialize_any` lets the error say what was found instead (`the string "fast"`).
fn any_number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    struct Number;

    impl Visitor<'_> for Number {
        type Value = f64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_i128<E: de::Error>(self, v: i128) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u128<E: de::Error>(self, v: u128) -> Result<f64, E> {
            Ok(v as f64)
        }
    }

    d.deserialize_any(Number)
}

/// `value` for a message: as written when short, else in scientific notation
/// (`1e300`, not three hundred digits).
pub(crate) fn number(value: f64) -> String {
    let plain = value.to_string();
    if plain.len() <= 24 {
        plain
    } else {
        format!("{value:e}")
    }
}

/// A finite number.
pub(super) fn finite<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = any_number(d)?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(de::Error::custom(format!(
            "expected a finite number, found {}",
            number(value)
        )))
    }
}

/// A finite number above 0.
pub(super) fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = finite(d)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(de::Error::custom(format!(
            "expected a number greater than 0, found {}",
            number(value)
        )))
    }
}

/// A finite number of at least 0.
pub(super) fn non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = finite(d)?;
    if value >= 0.0 {
        Ok(value)
    } else {
        Err(de::Error::custom(format!(
            "expected a number of at least 0, found {}",
            number(value)
        )))
    }
}

/// A number from 0 up to (not including) 1.
pub(super) fn fraction<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = finite(d)?;
    if (0.0..1.0).contains(&value) {
        Ok(value)
    } else {
        Err(de::Error::custom(format!(
            "expected a fraction from 0 up to (not including) 1, found {}",
            number(value)
        )))
    }
}

/// Game seconds per frame: from 1 ns to 1 s.
pub(super) fn time_step<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = positive(d)?;
    // A step below a nanosecond is a zero `Duration`: the game clock would never move
    // (found by the fuzz test; the battle hung).
    if value < 1e-9 {
        Err(de::Error::custom(format!(
            "expected at least 0.000000001 seconds (1 ns) per frame, found {}",
            number(value)
        )))
    } else if value <= 1.0 {
        Ok(value)
    } else {
        Err(de::Error::custom(format!(
            "expected at most 1 second per frame, found {}",
            number(value)
        )))
    }
}

/// Most ships in a scenario, both fleets together (each is a tasklet with a stack of its
/// own; 200,000 take about 3 GB). `--ships` scales each fleet to at most half of it.
pub const MAX_SHIPS: u32 = 200_000;
/// Most frames a battle may run (a scenario's `frames`, `--frames`): 1,000,000 frames are
/// 14 hours of game time at the default step, and minutes of wall time.
pub const MAX_FRAMES: u32 = 1_000_000;

/// A seed: a whole number from 0 to `u64::MAX`. Read through `deserialize_any`, so
/// `4.5` is named as a fraction rather than read as 4 followed by a stray `.5`.
pub(super) fn seed<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Seed;

    impl Seed {
        fn out_of_range<E: de::Error>(found: impl fmt::Display) -> E {
            E::custom(format!(
                "expected a whole number from 0 to {}, found {found}",
                u64::MAX
            ))
        }
    }

    impl Visitor<'_> for Seed {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a whole number from 0 to {}", u64::MAX)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| Seed::out_of_range(v))
        }
        fn visit_u128<E: de::Error>(self, v: u128) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| Seed::out_of_range(v))
        }
        fn visit_i128<E: de::Error>(self, v: i128) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| Seed::out_of_range(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
            // RON reads a whole number too large for 64 bits as a float: say so in
            // scientific notation, since its last digits are lost.
            if v.is_finite() && v.fract() == 0.0 {
                Err(Seed::out_of_range(format!("{v:e}")))
            } else {
                Err(E::invalid_type(Unexpected::Float(v), &self))
            }
        }
    }

    d.deserialize_any(Seed)
}

/// A squadron's ship count: a whole number from 1 to [`MAX_SHIPS`].
pub(super) fn ship_count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    d.deserialize_any(Count {
        most: MAX_SHIPS,
        limit: "(the most ships a scenario may have)",
    })
}

/// A scenario's frame count: a whole number from 1 to [`MAX_FRAMES`].
pub(super) fn frame_count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    d.deserialize_any(Count {
        most: MAX_FRAMES,
        limit: "(the most frames a battle may run)",
    })
}

/// A whole number from 1 to `most`; a fraction, a negative number or anything that is
/// not a number is named in the error, and so is the limit.
struct Count {
    most: u32,
    /// Why `most`, for the message.
    limit: &'static str,
}

impl Count {
    fn too_many<E: de::Error>(&self, found: impl fmt::Display) -> E {
        E::custom(format!(
            "expected a whole number of at most {} {}, found {found}",
            self.most, self.limit
        ))
    }
}

impl Visitor<'_> for Count {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a whole number from 1 to {}", self.most)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u32, E> {
        match u32::try_from(v) {
            Ok(0) => Err(E::custom("expected a whole number of at least 1, found 0")),
            Ok(n) if n <= self.most => Ok(n),
            _ => Err(self.too_many(v)),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u32, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!(
                "expected a whole number of at least 1, found {v}"
            ))),
        }
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<u32, E> {
        Err(self.too_many(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<u32, E> {
        if v < 1 {
            Err(E::custom(format!(
                "expected a whole number of at least 1, found {v}"
            )))
        } else {
            self.visit_u128(v as u128)
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u32, E> {
        // RON reads a whole number too large for 64 bits as a float (in scientific
        // notation in the message: its last digits are lost).
        if v.is_finite() && v.fract() == 0.0 && v.abs() > u64::MAX as f64 {
            return if v < 0.0 {
                Err(E::custom(format!(
                    "expected a whole number of at least 1, found {v:e}"
                )))
            } else {
                Err(self.too_many(format!("{v:e}")))
            };
        }
        Err(E::invalid_type(Unexpected::Float(v), &self))
    }
}

/// A fleet's or class's name: not blank, at most [`MAX_NAME`] characters.
pub(super) fn name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    check_name(&name, MAX_NAME).map_err(de::Error::custom)?;
    Ok(name)
}

/// The scenario's title: at most [`MAX_TITLE`] characters.
pub(super) fn title<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let title = String::deserialize(d)?;
    no_control(&title).map_err(de::Error::custom)?;
    let length = title.chars().count();
    if length > MAX_TITLE {
        return Err(de::Error::custom(format!(
            "a scenario's name has at most {MAX_TITLE} characters, this one {length}: {}",
            quoted(&title)
        )));
    }
    Ok(title)
}

fn check_name(name: &str, most: usize) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("expected a name, found an empty one".to_owned());
    }
    no_control(name)?;
    let length = name.chars().count();
    if length > most {
        return Err(format!(
            "a name has at most {most} characters, this one {length}: {}",
            quoted(name)
        ));
    }
    Ok(())
}

/// Names are printed to terminals and drawn in the GIF: a control character (an escape
/// sequence, a NUL, a line break) would garble or drive the terminal, and a text-direction
/// control (U+202E, right-to-left override) would make the text around it read backwards.
fn no_control(name: &str) -> Result<(), String> {
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!(
            "a name cannot hold control characters, this one has {c:?}: {}",
            quoted(name)
        ));
    }
    match name.chars().find(|&c| is_direction_control(c)) {
        Some(c) => Err(format!(
            "a name cannot hold text-direction controls, this one has {c:?}: {}",
            quoted(name)
        )),
        None => Ok(()),
    }
}

/// The Unicode characters that change the direction of the text after them: marks,
/// embeddings, overrides and isolates.
fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Reads `{ "Name": (...), ... }` into classes in file order, refusing a name given twice.
pub(super) fn class_map<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ShipClass>, D::Error> {
    struct ClassMap;

    impl<'de> Visitor<'de> for ClassMap {
        type Value = Vec<ShipClass>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map from class names to ship classes")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut classes: Vec<ShipClass> = Vec::new();
            while let Some(name) = map.next_key::<String>()? {
                check_name(&name, MAX_NAME)
                    .map_err(|e| de::Error::custom(format!("a ship class's name: {e}")))?;
                if classes.iter().any(|c| c.name == name) {
                    return Err(de::Error::custom(format!(
                        "ship class {} is defined twice",
                        quoted(&name)
                    )));
                }
                let mut class: ShipClass = map.next_value()?;
                class.name = name;
                classes.push(class);
            }
            Ok(classes)
        }
    }

    d.deserialize_map(ClassMap)
}
