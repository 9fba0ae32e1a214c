export * from './errors.ts';
export * from './headers.ts';
export * from './projects.ts';
export * from './sessions.ts';
export * from './users.ts';
export * from './events.ts';
export * from './saved-queries.ts';
export * from './replays.ts';
