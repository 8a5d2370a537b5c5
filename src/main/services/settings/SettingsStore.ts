/** The port the settings service writes through: electron-store in Electron, conf in the web host. */
export interface SettingsStore {
  /** The whole stored object, as found on disk (unvalidated). */
  read(): Record<string, unknown>;
  /** Replace the whole stored object (written atomically by the store library). */
  write(value: Record<string, unknown>): void;
  readonly filePath: string;
}

/** What opening the store had to repair, for the user to be told. */
export interface StoreRecovery {
  reason: string;
  movedTo: string;
}
