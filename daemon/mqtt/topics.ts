// Every topic name in one place.
export class Topics {
  readonly base: string;

  constructor(
    prefix: string,
    readonly site: string,
  ) {
    this.base = `${prefix}/${site}`;
  }

  get transcript() {
    return `${this.base}/transcript`;
  }
  get partial() {
    return `${this.base}/partial`;
  }
  get vad() {
    return `${this.base}/vad`;
  }
  get status() {
    return `${this.base}/status`;
  }
  get statusDetail() {
    return `${this.base}/status/detail`;
  }
  get mic() {
    return `${this.base}/mic`;
  }
  get muted() {
    return `${this.base}/muted`;
  }
  get enrollResult() {
    return `${this.base}/enroll/result`;
  }
  get cmdPrefix() {
    return `${this.base}/cmd/`;
  }
  get cmdWildcard() {
    return `${this.base}/cmd/#`;
  }
  cmd(name: string) {
    return `${this.base}/cmd/${name}`;
  }
}
