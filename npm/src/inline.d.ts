declare module 'strongroom:wasm-gzip-base64' {
  const packed: string;
  export default packed;
}
