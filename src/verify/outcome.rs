//! From the ends of an evaluation to one verdict per packet: accepted, dropped or unknown.
//! Copies of packets that an undecidable match forked may end with different verdicts; where
//! they overlap and disagree, the verdict is unknown, and the forking matches are the reason.

use super::eval::{End, Fate, Site};
use super::index::RuleIndex;
use super::space::{self, Cube, DIMS};

/// The verdicts of every packet followed, as boxes with the sites that decided them.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// With the sites that let the packets through each base chain.
    pub accepted: Vec<(Cube, Vec<Site>)>,
    /// With the rule or policy that dropped them (several when copies forked by an undecidable
    /// match were dropped by different rules).
    pub dropped: Vec<(Cube, Vec<Site>)>,
    /// With the constructs verify cannot model that decide.
    pub unknown: Vec<(Cube, Vec<Site>)>,
}

/// The verdict of one packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted(Vec<Site>),
    Dropped(Vec<Site>),
    Unknown(Vec<Site>),
    /// Not among the packets verify followed.
    Outside,
}

impl Outcome {
    pub fn resolve(ends: Vec<End>) -> Outcome {
        let mut out = Outcome::default();
        let (forked, certain): (Vec<End>, Vec<End>) = ends.into_iter().partition(|e| !e.part.forks.is_empty());
        for end in certain {
            out.add(end.part.cube, end.fate, Vec::new());
        }
        // Where copies disagree: for an accepted copy, the dropped and unknown ones it overlaps;
        // for a dropped copy, the accepted and unknown ones. Indexed, as copies can be many.
        let all_but = |kind: fn(&Fate) -> bool| {
            RuleIndex::new(&forked.iter().map(|e| (!kind(&e.fate)).then_some(e.part.cube)).collect::<Vec<_>>())
        };
        let not_accepted = all_but(|f| matches!(f, Fate::Accept(_)));
        let not_dropped = all_but(|f| matches!(f, Fate::Drop(_)));
        for end in &forked {
            let index = match end.fate {
                Fate::Unknown(_) => {
                    out.add(end.part.cube, end.fate.clone(), end.part.forks.clone());
                    continue;
                }
                Fate::Accept(_) => &not_accepted,
                Fate::Drop(_) => &not_dropped,
            };
            let disagree: Vec<&End> =
                index.overlapping(&end.part.cube).into_iter().filter_map(|j| forked.get(j)).collect();
            let against: Vec<Cube> = disagree.iter().map(|e| e.part.cube).collect();
            for cube in space::subtract(&[end.part.cube], &against) {
                out.add(cube, end.fate.clone(), Vec::new());
            }
            for other in disagree {
                if let Some(both) = end.part.cube.intersect(&other.part.cube) {
                    let mut why = end.part.forks.clone();
                    why.extend(other.part.forks.iter().copied());
                    why.sort_unstable();
                    why.dedup();
                    out.unknown.push((both, why));
                }
            }
        }
        out.accepted = merged(out.accepted);
        out.dropped = merged(out.dropped);
        out.unknown = merged(out.unknown);
        out
    }

    fn add(&mut self, cube: Cube, fate: Fate, forks: Vec<Site>) {
        match fate {
            Fate::Accept(sites) => self.accepted.push((cube, sites)),
            Fate::Drop(site) => self.dropped.push((cube, vec![site])),
            Fate::Unknown(site) => {
                let mut why = vec![site];
                why.extend(forks);
                self.unknown.push((cube, why));
            }
        }
    }

    /// The verdict of the packet at `point` (one value per dimension).
    pub fn verdict(&self, point: &[u128; DIMS]) -> Verdict {
        if let Some((_, why)) = self.unknown.iter().find(|(c, _)| c.contains(point)) {
            return Verdict::Unknown(why.clone());
        }
        if let Some((_, sites)) = self.accepted.iter().find(|(c, _)| c.contains(point)) {
            return Verdict::Accepted(sites.clone());
        }
        match self.dropped.iter().find(|(c, _)| c.contains(point)) {
            Some((_, sites)) => Verdict::Dropped(sites.clone()),
            None => Verdict::Outside,
        }
    }
}

/// Equal boxes as one, with the sites of all of them: copies of packets that a fork sent both
/// ways and that met the same verdict.
fn merged(mut verdicts: Vec<(Cube, Vec<Site>)>) -> Vec<(Cube, Vec<Site>)> {
    verdicts.sort_by_key(|a| a.0);
    let mut out: Vec<(Cube, Vec<Site>)> = Vec::with_capacity(verdicts.len());
    for (cube, sites) in verdicts {
        match out.last_mut() {
            Some((last, all)) if *last == cube => all.extend(sites),
            _ => out.push((cube, sites)),
        }
    }
    for (_, sites) in &mut out {
        sites.sort_unstable();
        sites.dedup();
    }
    out
}
