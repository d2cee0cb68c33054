//! The frame driver and its hecs integration (in progress; see issue 4).
