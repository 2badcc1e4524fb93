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
        let copies = Copies::grouped(&forked);
        // Where copies disagree: for an accepted copy, the dropped and unknown ones it overlaps;
        // for a dropped copy, the accepted and unknown ones. Indexed, as copies can be many.
        let all_but =
            |kind: Kind| RuleIndex::new(&copies.iter().map(|c| (c.kind != kind).then_some(c.cube)).collect::<Vec<_>>());
        let not_accepted = all_but(Kind::Accepted);
        let not_dropped = all_but(Kind::Dropped);
        for copy in &copies {
            let (index, list) = match copy.kind {
                Kind::Unknown => {
                    let mut why = copy.sites.clone();
                    why.extend(copy.forks.iter().copied());
                    out.unknown.push((copy.cube, why));
                    continue;
                }
                Kind::Accepted => (&not_accepted, &mut out.accepted),
                Kind::Dropped => (&not_dropped, &mut out.dropped),
            };
            let disagree: Vec<&Copies> =
                index.overlapping(&copy.cube).into_iter().filter_map(|j| copies.get(j)).collect();
            let against: Vec<Cube> = disagree.iter().map(|c| c.cube).collect();
            for cube in space::subtract(&[copy.cube], &against) {
                list.push((cube, copy.sites.clone()));
            }
            for other in disagree {
                if let Some(both) = copy.cube.intersect(&other.cube) {
                    let mut why = copy.forks.clone();
                    why.extend(other.forks.iter().copied());
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

/// What happened to forked copies of packets, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Accepted,
    Dropped,
    Unknown,
}

/// Forked copies with one box and one kind of fate, as one: a chain of undecidable matches sends
/// up to 2^`MAX_FORKS` copies of the same packets on, most of them with equal boxes, and comparing
/// each pair of them would cost the square of that. Their sites and forks are united, as `merged`
/// unites those of equal boxes in the end.
struct Copies {
    cube: Cube,
    kind: Kind,
    /// The sites of the fate: those that let the packets through, dropped them, or cannot tell.
    sites: Vec<Site>,
    forks: Vec<Site>,
}

impl Copies {
    /// In the order of each group's first copy, so that boxes are cut as they were met.
    fn grouped(ends: &[End]) -> Vec<Copies> {
        let mut groups: Vec<Copies> = Vec::new();
        let mut places: std::collections::HashMap<(Cube, Kind), usize> = std::collections::HashMap::new();
        for end in ends {
            let (kind, sites) = match &end.fate {
                Fate::Accept(sites) => (Kind::Accepted, sites.clone()),
                Fate::Drop(site) => (Kind::Dropped, vec![*site]),
                Fate::Unknown(site) => (Kind::Unknown, vec![*site]),
            };
            let place = *places.entry((end.part.cube, kind)).or_insert_with(|| {
                groups.push(Copies { cube: end.part.cube, kind, sites: Vec::new(), forks: Vec::new() });
                groups.len() - 1
            });
            if let Some(group) = groups.get_mut(place) {
                group.sites.extend(sites);
                group.forks.extend(end.part.forks.iter().copied());
            }
        }
        for group in &mut groups {
            group.sites.sort_unstable();
            group.sites.dedup();
            group.forks.sort_unstable();
            group.forks.dedup();
        }
        groups
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
