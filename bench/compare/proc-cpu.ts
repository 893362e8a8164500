import { readFileSync } from 'node:fs';

// Linux reports process times in clock ticks; USER_HZ is 100 on every mainstream kernel.
const MICROS_PER_TICK = 10_000;

/** utime+stime (own) and cutime+cstime (reaped children) of a process from /proc, in µs; zeros off Linux. */
export function procCpuMicros(pid: number | 'self'): { own: number; children: number } {
  try {
    // Fields after "pid (comm) ": state is field 3, so utime..cstime (14-17) sit at 11-14.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return {
      own: (Number(fields[11]) + Number(fields[12])) * MICROS_PER_TICK,
      children: (Number(fields[13]) + Number(fields[14])) * MICROS_PER_TICK,
    };
  } catch {
    return { own: 0, children: 0 };
  }
}

/** CPU time the whole machine has been busy (every state but idle and iowait, summed over cores) from /proc/stat, in µs; 0 off Linux. */
export function machineBusyMicros(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((sum, value) => sum + value, 0);
    return (total - fields[3]! - fields[4]!) * MICROS_PER_TICK;
  } catch {
    return 0;
  }
}
