import { randomUUID } from 'node:crypto';
import type { Notice } from '@contract';
import type { Emit } from '../../ipc/EventHub';

/** Things the user must be told about that happened outside any call (start-up repairs, crashes). */
export class NoticeBoard {
  private notices: Notice[] = [];

  constructor(private readonly emit: Emit) {}

  post(level: Notice['level'], message: string, detail?: string): Notice {
    const notice: Notice = { id: randomUUID(), level, message, at: new Date().toISOString() };
    if (detail !== undefined) notice.detail = detail;
    this.notices.push(notice);
    this.emit('app.notice', notice);
    return notice;
  }

  list(): Notice[] {
    return [...this.notices];
  }

  dismiss(id: string): void {
    this.notices = this.notices.filter((n) => n.id !== id);
  }
}
