/** This package's version, as in its package.json (a test keeps them equal). */
export const VERSION = '0.1.0';

/** The `User-Agent` of every request: Bulwark, its version, the platform and Node's version. */
export const USER_AGENT = `bulwark/${VERSION} (${process.arch} ${process.platform}) Node.js/${process.version}`;
