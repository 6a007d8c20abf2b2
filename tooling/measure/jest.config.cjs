module.exports = require('@kdma/jest-preset')(__dirname);
