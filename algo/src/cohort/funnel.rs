//! Funnels: how deep into an ordered list of steps each user got, within a time window.

/// The deepest step a user reached: `events` are (time, name index) pairs, `steps` the
/// name index of each step, `window` the longest time from the first step (None: no limit).
pub fn funnel_depth(events: &mut [(i64, u32)], steps: &[u32], window: Option<i64>) -> usize {
    // Ties in time are taken in step order, which keeps the answer independent of row order.
    let step_rank = |name: u32| steps.iter().position(|&s| s == name).unwrap_or(usize::MAX);
    events.sort_unstable_by_key(|&(ts, name)| (ts, step_rank(name)));
    // start[level] is the latest start time of a chain that has reached `level`; keeping the
    // latest start leaves the most room in the window for the steps after it.
    let mut start: Vec<Option<i64>> = vec![None; steps.len()];
    for &(ts, name) in events.iter() {
        for level in (0..steps.len()).rev() {
            if steps[level] != name {
                continue;
            }
            if level == 0 {
                start[0] = Some(ts);
            } else if let Some(begin) = start[level - 1]
                // In i128: two far-apart timestamps overflow an i64 difference.
                && window.is_none_or(|w| ts as i128 - begin as i128 <= w as i128)
            {
                start[level] = Some(start[level].map_or(begin, |s| s.max(begin)));
            }
        }
    }
    start.iter().rposition(Option::is_some).map_or(0, |deepest| deepest + 1)
}

/// Users reaching each step, from the depth each user reached.
pub fn step_counts(depths: &[usize], steps: usize) -> Vec<i64> {
    let mut counts = vec![0i64; steps];
    for &depth in depths {
        for count in &mut counts[..depth.min(steps)] {
            *count += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIEW: u32 = 0;
    const CART: u32 = 1;
    const BUY: u32 = 2;

    #[test]
    fn steps_in_order() {
        let steps = [VIEW, CART, BUY];
        assert_eq!(funnel_depth(&mut [(1, VIEW), (2, CART), (3, BUY)], &steps, None), 3);
        // Out of order: the purchase before the cart does not count.
        assert_eq!(funnel_depth(&mut [(1, VIEW), (2, BUY), (3, CART)], &steps, None), 2);
        // Skipping the cart stops the funnel at the view.
        assert_eq!(funnel_depth(&mut [(1, VIEW), (3, BUY)], &steps, None), 1);
        // No first step: not in the funnel at all.
        assert_eq!(funnel_depth(&mut [(1, CART), (2, BUY)], &steps, None), 0);
    }

    #[test]
    fn window_counts_from_the_best_start() {
        let steps = [VIEW, CART, BUY];
        let mut events = [(0, VIEW), (100, VIEW), (105, CART), (108, BUY)];
        assert_eq!(funnel_depth(&mut events, &steps, Some(10)), 3);
        let mut late = [(0, VIEW), (5, CART), (50, BUY)];
        assert_eq!(funnel_depth(&mut late, &steps, Some(10)), 2);
    }

    #[test]
    fn ties_follow_step_order_and_repeated_steps_need_two_events() {
        let steps = [VIEW, CART];
        assert_eq!(funnel_depth(&mut [(5, CART), (5, VIEW)], &steps, None), 2);
        let twice = [VIEW, VIEW, BUY];
        assert_eq!(funnel_depth(&mut [(1, VIEW), (2, BUY)], &twice, None), 1);
        assert_eq!(funnel_depth(&mut [(1, VIEW), (2, VIEW), (3, BUY)], &twice, None), 3);
    }

    #[test]
    fn far_apart_times_do_not_overflow() {
        let steps = [VIEW, CART];
        assert_eq!(funnel_depth(&mut [(i64::MIN, VIEW), (i64::MAX, CART)], &steps, Some(i64::MAX)), 1);
        assert_eq!(funnel_depth(&mut [(i64::MIN, VIEW), (i64::MAX, CART)], &steps, None), 2);
    }

    #[test]
    fn counts_per_step() {
        assert_eq!(step_counts(&[3, 1, 0, 2], 3), vec![3, 2, 1]);
    }
}
