// The worker side of a Pool, as a user writes it.
import { handle } from 'pm-native/worker';

handle(async (task: { n: number }) => ({ doubled: task.n * 2 }));
handle<number, string>((n) => String(n));
