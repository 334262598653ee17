/*
 * Preloaded into the hub process (NODE_OPTIONS=--import) when BENCH_PROFILE_DIR is set: Node 20
 * refuses --cpu-prof in NODE_OPTIONS, so the profiler is started here through the inspector and its
 * profile written as <dir>/hub-<pid>.cpuprofile on exit (the hub exits on SIGTERM). Plain JS: it
 * loads before tsx.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.enable');
  session.post('Profiler.start');
  // The in-process session answers synchronously, so this works inside 'exit'.
  process.once('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `hub-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
