import { record } from '@rrweb/record';
import { NO_CAPTURE } from './no-capture.ts';
import type { RecorderOptions, Recording } from './replay-loader.ts';

/**
 * The lazily loaded half of session replay: rrweb's recorder with Sightline's
 * privacy defaults. Only `replay-loader.ts` (through the build's loader) imports it.
 *
 * @example
 * const recording = startRecorder({ emit, blockSelector: '.private' });
 */
export function startRecorder(options: RecorderOptions): Recording {
  const maskAllInputs = options.maskAllInputs ?? true;
  const stop = record({
    emit: options.emit,
    maskAllInputs,
    // Passwords are masked whatever maskAllInputs says.
    maskInputOptions: { password: true },
    // rrweb's input masking covers form fields only; text typed into editable regions is masked here.
    maskTextSelector: maskAllInputs ? '[contenteditable]:not([contenteditable="false"])' : undefined,
    blockClass: options.blockClass,
    // No-capture areas are invisible to the tracker, and blocked in replays whatever the app adds.
    blockSelector: options.blockSelector ? `${NO_CAPTURE},${options.blockSelector}` : NO_CAPTURE,
  });
  return { stop: () => stop?.(), snapshot: () => record.takeFullSnapshot(true) };
}
