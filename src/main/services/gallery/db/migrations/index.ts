/** Every gallery migration, in version order. A new one is a new numbered file added here. */
import type { Migration } from '../runMigrations';
import initial from './0001-initial';
import imageNotes from './0002-image-notes';

export const galleryMigrations: readonly Migration[] = [initial, imageNotes];
