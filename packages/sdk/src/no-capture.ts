/**
 * Elements under this attribute are invisible to the tracker (no clicks, no text) and
 * blocked in replays. A module of its own: the tracker and the lazily loaded recorder
 * both need it, and nothing else of either.
 */
export const NO_CAPTURE = '[data-sightline-no-capture]';
