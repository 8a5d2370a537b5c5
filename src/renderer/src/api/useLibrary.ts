import { useEffect, useState } from 'react';
import type { LibraryEntry } from '@contract';
import { useStudio } from './StudioProvider';

/**
 * The model library's entries (models, LoRAs, embeddings), listed again whenever the models folder
 * changes or an import or download finishes: the one reader of `models.list` outside the Models page.
 */
export function useLibrary(): { entries: LibraryEntry[]; loaded: boolean; error: string | null } {
  const { client } = useStudio();
  const [entries, setEntries] = useState<LibraryEntry[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    const load = (): void =>
      void client.invoke('models.list', {}).then(
        (list) => {
          if (!live) return;
          setEntries(list);
          setLoaded(true);
          setError(null);
        },
        (err: Error) => live && setError(err.message),
      );
    load();
    const offChanged = client.on('models.changed', load);
    const offImport = client.on('models.import', (p) => p.finished && load());
    return () => {
      live = false;
      offChanged();
      offImport();
    };
  }, [client]);
  return { entries, loaded, error };
}
