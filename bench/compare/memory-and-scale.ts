export async function runMemoryAndScale(_options: { smoke: boolean; parts: readonly string[]; out: (text?: string) => void }): Promise<void> {}
