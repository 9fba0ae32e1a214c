import { startRecorder } from './recorder.ts';

// The IIFE tracker injects this script when a session is recorded and picks the recorder up here.
window.__sightlineRecorder = { startRecorder };
